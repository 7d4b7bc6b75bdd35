"""A review over a long window stays a page: a row per day once there are more days than
columns fit, and the latest rows of a long list (the JSON keeps every one)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from quantbot.cli import review
from quantbot.cli.main import _parser
from quantbot.clock import NS_PER_S, SimClock, iso_utc
from quantbot.config.schema import load_config

NOW_NS = 1_796_644_800 * NS_PER_S  # 2026-12-07T12:00:00Z
DAY_NS = 86_400 * NS_PER_S


def _line(record: dict) -> bytes:
    return orjson.dumps(record) + b"\n"


def _account(root: Path) -> None:
    runtime = root / "runtime"
    runtime.mkdir(mode=0o700)
    lines = []
    for n in range(12):  # twelve days, one halt and two low-confidence refusals on each
        ts = iso_utc(NOW_NS - (12 - n) * DAY_NS)
        envelope = {"ts": ts, "run_id": "r1", "execution_mode": "paper"}
        lines.append(
            _line(
                {
                    **envelope,
                    "event": "HALT",
                    "reason": {"code": "HALT_TASK_CRASHED", "task": f"t{n}"},
                }
            )
        )
        for symbol in ("SIMA", "SIMB"):
            lines.append(
                _line(
                    {
                        **envelope,
                        "decision_id": f"{symbol}@{ts}",
                        "symbol": symbol,
                        "intent": None,
                        "reason": {"code": "BLOCK_LOW_CONFIDENCE"},
                        "net": {"target": 0.2, "contributions": {"trend": 0.2}},
                    }
                )
            )
    (runtime / "decisions.jsonl").write_bytes(b"".join(lines))  # fmt: skip
    (root / "config.toml").write_text("", encoding="utf-8")


def test_a_long_window_stays_a_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _account(tmp_path)
    monkeypatch.chdir(tmp_path)
    loaded = load_config(Path("config.toml"))
    assert review.run(_parser().parse_args(["review", "--since", "30d"]), loaded,
                      SimClock(NOW_NS)) == 0  # fmt: skip
    page = capsys.readouterr().out.splitlines()
    at = page.index("  halts     12 (halts, kill switch, drawdown trips)")
    assert page[at + 1] == "    ... 2 earlier (--json has every one)"
    assert page[at + 2].startswith("    2026-11-27 12:00:00  halt  HALT_TASK_CRASHED  task=t2 ")
    assert page[at + 11].startswith("    2026-12-06 12:00:00  halt  HALT_TASK_CRASHED  task=t11 ")
    at = page.index("  by day      total  codes")
    assert page[at + 1] == "  2026-11-25      2  BLOCK_LOW_CONFIDENCE 2"
    assert page[at + 12] == "  2026-12-06      2  BLOCK_LOW_CONFIDENCE 2"
    assert page[at + 13] == "  by sleeve             total  trend"
    assert page[at + 14] == "  BLOCK_LOW_CONFIDENCE     24     24"

    review.run(_parser().parse_args(["review", "--since", "30d", "--json"]), loaded,
               SimClock(NOW_NS))  # fmt: skip
    doc = orjson.loads(capsys.readouterr().out)
    assert len(doc["broke"]["halts"]) == 12 and len(doc["denied"]["by_day"]) == 12
