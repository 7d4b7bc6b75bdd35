"""`quantbot replay` of the shared daily data with [session] calendar = "XNYS": every real
bar is a trading day, so nothing changes; a bar dated on a holiday is blocked."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pytest

from quantbot.venues.calendar import build_calendar
from tests.integration.daemon import REPO_ROOT, read_jsonl, run

DAILY = REPO_ROOT.parent / "shared" / "data" / "daily"
XNYS = {"QUANTBOT__SESSION__CALENDAR": "XNYS"}


def replay(workdir: Path, data: Path, env: dict[str, str] | None = None, *args: str) -> Path:
    result = run(workdir, "replay", "--data", str(data), *args, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    [out] = [line.split()[-1] for line in result.stdout.splitlines() if "records:" in line]
    return workdir / out


def orders(records: Path) -> dict[str, tuple[str, str | None]]:
    """bar date -> (outcome, the refusing gate's code) of each decision that had an order."""
    out = {}
    for r in read_jsonl(records):
        if "decision_id" in r and r.get("order"):
            why = r["order"].get("reason") or {}
            out[r["bar_ts"][:10]] = (r["order"]["outcome"], why.get("code"))
    return out


def trading_days(start: date, step: int, count: int) -> list[date]:
    calendar, days, day = build_calendar("XNYS", "America/New_York"), [], start
    while len(days) < count:
        day += timedelta(days=step)
        if calendar.is_trading_day(day):
            days.append(day)
    return days


@pytest.mark.e2e
def test_the_shared_data_trades_every_bar_and_a_holiday_bar_is_blocked(workdir: Path) -> None:
    span = ("--from", "2012-01-01", "--to", "2012-12-31")
    plain = orders(replay(workdir, DAILY / "AAPL.csv", None, *span))
    nyse = orders(replay(workdir, DAILY / "AAPL.csv", XNYS, *span))
    assert len(plain) > 5
    assert nyse == plain  # real trading days only: the calendar blocks none of them

    # The same 2012 prices, the bar of the first order dated on Independence Day 2012 (the
    # bars before it on the trading days before, the rest on the trading days after).
    with (DAILY / "AAPL.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if "2012-01-01" <= r["date"] <= "2012-12-31"]
    first = next(i for i, r in enumerate(rows) if r["date"] == min(plain))
    holiday = date(2012, 7, 4)
    dates = [
        *reversed(trading_days(holiday, -1, first)),
        holiday,
        *trading_days(holiday, 1, len(rows) - first - 1),
    ]
    moved = workdir / "AAPL.csv"
    with moved.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**r, "date": d.isoformat()} for r, d in zip(rows, dates, strict=True))

    assert orders(replay(workdir, moved))["2012-07-04"] == ("ACCEPTED", None)
    blocked = orders(replay(workdir, moved, XNYS))
    assert blocked["2012-07-04"] == ("NOT_SENT", "MARKET_CLOSED_BLOCK")
