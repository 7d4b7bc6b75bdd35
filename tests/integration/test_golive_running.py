"""Go-live enforced while running: a live daemon on the loopback Alpaca server (the real
alpaca-py SDK, `venue.alpaca.paper = false`) with go-live enabled.

`quantbot go-live disable --cancel-all` reaches it within a second: a GO_LIVE_DISABLED event
and alert, a cancel-all, and every later decision that would add risk refused with
GO_LIVE_DISABLED; enabling go-live again for the config it runs lets it trade again; and
`quantbot kill` stops it the same way it stops a paper run."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from quantbot.clock import LiveClock
from quantbot.risk.golive import GO_LIVE_FILE, Checklist, ChecklistItem, GoLiveStore
from quantbot.testing.alpaca import AlpacaServer
from quantbot.testing.alpaca_book import AlpacaBook
from tests.integration.daemon import read_jsonl, run, start, wait_until
from tests.integration.loopback import ServerThread
from tests.integration.test_real_venues_e2e import COMMON, KEY, SECRET, _two_hours_back_ms

pytestmark = pytest.mark.e2e


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _enable(workdir: Path, config_hash: str) -> None:
    """What `quantbot go-live enable` writes once its checklist passed on ``config_hash``
    (the checklist itself is tested in tests/unit/risk/test_golive*.py)."""
    checklist = Checklist(items=(ChecklistItem("all", True, "passed"),), config_hash=config_hash)
    GoLiveStore(workdir / "state" / GO_LIVE_FILE, LiveClock()).enable(checklist)


class Live:
    def __init__(self, workdir: Path, srv: ServerThread, server: AlpacaServer) -> None:
        self.workdir, self.srv, self.server = workdir, srv, server
        self.env = {
            **COMMON,
            "QUANTBOT__VENUE__NAME": "alpaca",
            "QUANTBOT__VENUE__ALPACA__PAPER": "false",
            "QUANTBOT__VENUE__ALPACA__BASE_URL": srv.url,
            "QUANTBOT__VENUE__ALPACA__DATA_URL": srv.url,
            "QUANTBOT__MARKET__SYMBOLS": '["AAPL", "MSFT"]',
            "QUANTBOT__VENUE__ALPACA__POLL_INTERVAL_S": "0.2",
            "QUANTBOT__VENUE__ALPACA__TIMEOUT_S": "3",
            "APCA_API_KEY_ID": KEY,
            "APCA_API_SECRET_KEY": SECRET,
        }
        self.proc: subprocess.Popen[str] | None = None

    def records(self) -> list[dict[str, Any]]:
        path = self.workdir / "runtime" / "decisions.jsonl"
        return read_jsonl(path) if path.exists() else []

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("event") == name]

    def until(self, predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
        """Move the market a minute per look while waiting (bars keep coming)."""

        def ticked() -> bool:
            self.srv.call(lambda: self.server.tick(1))
            return predicate()

        wait_until(ticked, timeout=timeout, what=what, proc=self.proc)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = run(self.workdir, *args, env=self.env)
        assert result.returncode == 0, result.stderr[-2000:]
        return result


def _decisions_after(records: list[dict[str, Any]], ts: str) -> list[dict[str, Any]]:
    return [r for r in records if "decision_id" in r and _ts(r["ts"]) > _ts(ts)]


def _adds_risk(record: dict[str, Any]) -> bool:
    intent = record.get("intent") or {}
    return bool(record.get("order")) and not intent.get("reducing", False)


# Decided before anything is refused: the net target moved less than the deadband, so no
# order was wanted (the step's netting stage, ahead of the new-risk check).
WANTED_NOTHING = {"NETTING_DEADBAND"}


def _no_order_codes(records: list[dict[str, Any]]) -> set[str]:
    """The reason of every decision that sent nothing, but those that wanted nothing."""
    codes = {r["reason"]["code"] for r in records if not r.get("order")}
    return codes - WANTED_NOTHING


def test_go_live_disable_stops_new_risk_in_a_running_live_daemon(workdir: Path) -> None:
    server = AlpacaServer(
        AlpacaBook(start_ns=_two_hours_back_ms() * 1_000_000), api_key=KEY, api_secret=SECRET
    )
    with ServerThread(server) as srv:
        srv.call(lambda: server.set_clock(True))  # a session is open
        live = Live(workdir, srv, server)
        _enable(workdir, "the checklist's hash is not asked at start")
        live.proc = start(workdir, "run", "--execution-mode", "live", "--duration", "120s",
                          env=live.env)  # fmt: skip
        try:
            live.until(
                lambda: any(_adds_risk(r) for r in live.records()), "a live order that adds risk"
            )
            # -- go-live disable --cancel-all, as a person types it -------------------------
            live.cli("go-live", "disable", "--cancel-all", "--note", "e2e")
            state = orjson.loads((workdir / "state" / GO_LIVE_FILE).read_bytes())
            live.until(lambda: live.events("GO_LIVE_DISABLED"), "the GO_LIVE_DISABLED event")
            [event] = live.events("GO_LIVE_DISABLED")
            assert event["reason"]["code"] == "GO_LIVE_DISABLED"
            assert event["reason"]["note"] == "e2e"
            # Seen within the control poll (0.2 s), well inside a second of the disable.
            assert _ts(event["ts"]) - _ts(state["disabled_at"]) < 1.0, (event, state)
            live.until(lambda: live.events("CANCEL_ALL"), "the cancel-all")
            [cancel] = live.events("CANCEL_ALL")
            assert cancel["reason"]["trigger"] == "go_live_disable"
            alerts = read_jsonl(workdir / "runtime" / "alerts.jsonl")
            assert [a["note"] for a in alerts if a["alert"] == "ALERT_GO_LIVE_DISABLED"] == ["e2e"]

            live.until(
                lambda: len(_decisions_after(live.records(), event["ts"])) >= 20,
                "20 decisions after the disable",
            )
            after = _decisions_after(live.records(), event["ts"])
            assert not [r for r in after if _adds_risk(r)], "risk added after go-live disable"
            assert _no_order_codes(after) == {"GO_LIVE_DISABLED"}, _no_order_codes(after)

            # -- enabled again for the config the daemon runs: it trades again --------------
            [manifest] = (workdir / "runtime" / "manifests").glob("*.json")
            _enable(workdir, orjson.loads(manifest.read_bytes())["config_hash"])
            live.until(lambda: live.events("GO_LIVE_ENABLED"), "the GO_LIVE_ENABLED event")
            [enabled] = live.events("GO_LIVE_ENABLED")
            live.until(
                lambda: any(_adds_risk(r) for r in _decisions_after(live.records(), enabled["ts"])),
                "an order that adds risk after go-live was enabled again",
            )

            # -- the kill switch stops a live daemon as it stops a paper one ------------------
            live.cli("kill", "--reason", "e2e kill")
            live.until(lambda: live.events("KILL"), "the KILL event")
            [kill] = live.events("KILL")
            live.until(
                lambda: len(_decisions_after(live.records(), kill["ts"])) >= 10,
                "10 decisions after the kill",
            )
            after = _decisions_after(live.records(), kill["ts"])
            assert not [r for r in after if _adds_risk(r)], "risk added after the kill"
            assert _no_order_codes(after) == {"KILL_SWITCH_ACTIVE"}, _no_order_codes(after)
        finally:
            if live.proc.poll() is None:
                live.proc.send_signal(signal.SIGTERM)
            out, err = live.proc.communicate(timeout=30)
    assert "Traceback" not in err, err[-3000:]
    for text in (out, err):
        assert KEY not in text and SECRET not in text
