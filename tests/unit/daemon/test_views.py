"""The operator's views see the run through its feed: the daemon's start and stop, every
record, journal event and status report; and a view that breaks never stops trading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from quantbot.clock import LiveClock
from quantbot.config.schema import load_config
from quantbot.daemon.daemon import EXIT_OK, Daemon
from quantbot.ops.feed import RunFeed

SHARED_DAILY = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "daily"


def _loaded(tmp_path: Path):
    environ = {
        "QUANTBOT__RUN__STATE_DIR": str(tmp_path / "state"),
        "QUANTBOT__RUN__RUNTIME_DIR": str(tmp_path / "runtime"),
        "QUANTBOT__MARKET__SOURCE": "csv",
        "QUANTBOT__MARKET__SYMBOLS": '["AAPL"]',
        "QUANTBOT__MARKET__CSV_PATHS": orjson.dumps([str(SHARED_DAILY / "AAPL.csv")]).decode(),
    }
    return load_config(None, environ=environ)


class Watcher:
    """A view that keeps what it is told."""

    name = "watcher"

    def __init__(self, *, breaks: bool = False) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []
        self.status_at_start: dict[str, Any] | None = None
        self.stopped = False
        self._breaks = breaks

    async def start(self, feed: RunFeed, status: Any) -> None:
        self.status_at_start = status()
        feed.subscribe(self._take)

    def _take(self, kind: str, payload: dict[str, Any]) -> None:
        if self._breaks and kind == "journal":
            raise RuntimeError("a bug in a view")
        self.items.append((kind, payload))

    async def stop(self) -> None:
        self.stopped = True

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [p for k, p in self.items if k == kind]


async def test_a_view_sees_the_run_from_start_to_stop(tmp_path: Path) -> None:
    watcher = Watcher()
    daemon = Daemon(_loaded(tmp_path), execution_mode="paper", clock=LiveClock(), views=[watcher])
    await daemon.start()
    assert await daemon.run() == EXIT_OK

    assert watcher.status_at_start is not None and watcher.status_at_start["bars"] == 0
    runs = watcher.of("run")
    assert [r["phase"] for r in runs] == ["started", "stopped"]
    assert runs[0]["run_id"] == daemon.run_id and runs[0]["mode"] == "paper"
    assert watcher.items[-1][0] == "run" and watcher.stopped
    # Every decision record on disk, in order, and the journal's fills.
    on_disk = (tmp_path / "runtime" / "decisions.jsonl").read_bytes().splitlines()
    assert [orjson.dumps(r) for r in watcher.of("record")] == [
        orjson.dumps(orjson.loads(line)) for line in on_disk
    ]
    assert watcher.of("journal") and {"INTENT", "FILL"} <= {
        e["type"] for e in watcher.of("journal")
    }
    assert watcher.of("status")[-1]["bars"] == 3270


async def test_a_view_that_raises_is_cut_off_and_trading_goes_on(tmp_path: Path) -> None:
    broken, healthy = Watcher(breaks=True), Watcher()
    daemon = Daemon(
        _loaded(tmp_path), execution_mode="paper", clock=LiveClock(), views=[broken, healthy]
    )
    await daemon.start()
    assert await daemon.run() == EXIT_OK
    assert not broken.of("journal") and broken.of("run") == broken.of("run")[:1]
    assert healthy.of("journal") and healthy.of("status")[-1]["bars"] == 3270
