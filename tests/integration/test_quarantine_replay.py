"""Quarantine in a replay (issue 20, the judged test): one sleeve loses after costs and is
quarantined on schedule, the other keeps trading, it is released after the stated time; all
visible in the records and byte-identical on a second replay."""

from __future__ import annotations

import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.integration.daemon import REPO_ROOT, command, quantbot_env, read_jsonl

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "zigzag_sleeve.py"

CONFIG = f"""\
[signals.winner]
kind = "{FIXTURE}:Zigzag"
symbols = ["AAA"]
follow = false

[signals.loser]
kind = "{FIXTURE}:Zigzag"
symbols = ["BBB"]
follow = true

[regime_components.conservative]
winner = 1.0
loser = 1.0

[regime_components.balanced]
winner = 1.0
loser = 1.0

[regime_components.aggressive]
winner = 1.0
loser = 1.0

[orders]
exits = false

# Without a stop-loss an order's risk is its whole notional: room for one position each.
[daily_risk.conservative.total]
max_open_risk_usd = 20000.0

[daily_risk.conservative.per_sleeve]
max_open_risk_usd = 10000.0

[quarantine]
mode = "block"
symbols = false
duration_bars = 10
min_trades = 3
expectancy_window_trades = 5
"""


def zigzag_csv(path: Path, bars: int = 80) -> Path:
    """Daily bars whose close alternates 100, 101, 100, ... (each opens at the last close)."""
    rows = ["date,open,high,low,close,volume,adj_close"]
    day, last = date(2020, 1, 1), 100.0
    for n in range(bars):
        close = 101.0 if n % 2 else 100.0
        rows.append(
            f"{day + timedelta(days=n)},{last},{max(last, close)},{min(last, close)},{close},"
            f"1000000,{close}"
        )
        last = close
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def replay(workdir: Path, out: str, config: str = CONFIG) -> Path:
    (workdir / "config.toml").write_text(config, encoding="utf-8")
    env = {k: v for k, v in quantbot_env().items() if not k.startswith("QUANTBOT__SIGNALS__")}
    data = [str(zigzag_csv(workdir / name)) for name in ("AAA.csv", "BBB.csv")]
    result = subprocess.run(
        command("replay", "--data", *data, "--out", str(workdir / out)),
        cwd=workdir, env=env, text=True, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    [records] = (workdir / out).glob("*/decisions.jsonl")
    return records


@pytest.mark.e2e
def test_a_losing_sleeve_is_quarantined_on_schedule_and_released_while_the_other_trades(
    tmp_path: Path,
) -> None:
    path = replay(tmp_path, "one")
    lines = read_jsonl(path)
    events = [(n, r) for n, r in enumerate(lines) if r.get("event", "").startswith("QUARANTINE")]
    assert [r["event"] for _, r in events][:2] == ["QUARANTINE", "QUARANTINE_RELEASED"]
    (start, trip), (end, released) = events[0], events[1]

    # On schedule: after the loser's third round trip, every one of them a loss after costs.
    why = trip["reason"]
    assert why["code"] == "SLEEVE_QUARANTINED"
    assert (why["sleeve"], why["trigger"], why["mode"]) == ("loser", "expectancy", "block")
    assert why["metrics"]["trips"] == 3 and why["metrics"]["losing_trips"] == 3
    assert why["metrics"]["expectancy_usd"] < 0
    sent_before = [r for r in lines[:start] if r.get("symbol") == "BBB" and _accepted(r)]
    assert [r["intent"]["side"] for r in sent_before] == ["BUY", "SELL"] * 3

    # While quarantined: the loser's entries are refused with the reason, nothing of it goes;
    # the winner keeps trading.
    during = lines[start + 1 : end]
    refused = [r for r in during if r.get("symbol") == "BBB" and r.get("intent")]
    assert refused, "the loser wanted to enter while quarantined"
    assert all(r["reason"]["code"] == "SLEEVE_QUARANTINED" for r in refused)
    assert all(r["order"]["outcome"] == "NOT_SENT" for r in refused)
    assert not [r for r in during if r.get("symbol") == "BBB" and _accepted(r)]
    assert len([r for r in during if r.get("symbol") == "AAA" and _accepted(r)]) >= 4

    # Released after the stated time (10 bars), by itself; then the loser trades again.
    assert released["reason"]["by"] == "time" and released["reason"]["bars"] == 10
    bars_between = {r["bar_ts"] for r in during if "decision_id" in r}
    assert len(bars_between) == 10
    after = lines[end + 1 :]
    assert [r for r in after if r.get("symbol") == "BBB" and _accepted(r)]

    # The same replay again: the same records, byte for byte.
    again = replay(tmp_path, "two")
    assert again.read_bytes() == path.read_bytes()


@pytest.mark.e2e
def test_zero_targets_zeroes_the_losing_sleeves_targets_while_quarantined(tmp_path: Path) -> None:
    config = CONFIG.replace('mode = "block"', 'mode = "zero_targets"')
    lines = read_jsonl(replay(tmp_path, "zero", config))
    [start, end] = [n for n, r in enumerate(lines) if r.get("event", "").startswith("QUARANTINE")][
        :2
    ]
    assert lines[start]["reason"]["mode"] == "zero_targets"
    during = [r for r in lines[start + 1 : end] if "decision_id" in r]
    bbb = [r for r in during if r["symbol"] == "BBB"]
    assert len(bbb) == 10
    for record in bbb:  # what the sleeve wanted is in the record, and that it counted as 0
        [clamp] = [c for c in record["clamps"] if c["code"] == "SLEEVE_QUARANTINED"]
        assert clamp["zeroed"] == "loser"
        assert clamp["wanted"] == record["sleeves"]["loser"]["target"]
        assert record["net"]["target"] == 0.0 and not record["intent"]
    assert [r for r in during if r["symbol"] == "AAA" and _accepted(r)]
    assert lines[end]["reason"]["by"] == "time"


def _accepted(record: dict) -> bool:
    return bool(record.get("intent")) and record.get("order", {}).get("outcome") == "ACCEPTED"


DAILY = REPO_ROOT.parent / "shared" / "data" / "daily"

STOP_OUTS = """\
[quarantine]
symbols = false
min_trades = 0
max_stop_outs = 2
stop_outs_window_bars = 60
duration_bars = 5
"""


@pytest.mark.e2e
@pytest.mark.skipif(not (DAILY / "AAPL.csv").exists(), reason="the shared daily data")
def test_stop_outs_are_the_stop_loss_legs_fills_of_the_sleeves_trips(tmp_path: Path) -> None:
    """With the shipped sleeves and exits on: a trip closed by its stop-loss leg counts as a
    stop-out of the sleeve that opened it (the journal's exit_role), and two within the
    window quarantine it."""
    (tmp_path / "config.toml").write_text(STOP_OUTS, encoding="utf-8")
    result = subprocess.run(
        command("replay", "--data", str(DAILY / "AAPL.csv"), "--to", "2002-12-31",
                "--out", str(tmp_path / "out")),
        cwd=tmp_path, env=quantbot_env(), text=True, capture_output=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    [out] = (tmp_path / "out").glob("*/")
    lines = read_jsonl(out / "decisions.jsonl")
    first = next(r for r in lines if r.get("event") == "QUARANTINE")
    assert first["reason"]["trigger"] == "stop_outs"
    assert first["reason"]["metrics"]["stop_outs"] == 2
    # the trips it counted: those trades.csv says a stop-loss closed, up to that moment
    rows = (out / "trades.csv").read_text().splitlines()[1:]
    stopped = [r.split(",") for r in rows if r.endswith(",stop_loss")]
    assert len([r for r in stopped if r[5][:19] <= first["ts"][:19]]) == 2
