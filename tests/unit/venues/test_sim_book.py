"""The paper venue's book survives a restart exactly as a broker's account would."""

from __future__ import annotations

import stat
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from quantbot.clock import SimClock
from quantbot.domain.errors import StartupError
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import Bar, Instrument, OrderIntent, OrderType, Side, SubmitOutcome
from quantbot.venues.sim import SimVenue

D = Decimal
T0 = 1_700_000_000_000_000_000
INSTRUMENTS = {"AAPL": Instrument("AAPL", tick_size=D("0.01"), lot_size=D(1))}


def make_venue(path: Path | None, clock: SimClock | None = None, cash: str = "100000") -> SimVenue:
    return SimVenue(
        clock=clock or SimClock(T0),
        instruments=INSTRUMENTS,
        state_path=path,
        initial_cash=D(cash),
        fee_bps=10.0,
        slippage_bps=5.0,
        participation_cap=0.1,
    )


def buy(cid: str, qty: str, limit: str | None = None) -> OrderIntent:
    return OrderIntent(
        client_order_id=cid,
        decision_id="AAPL@0",
        symbol="AAPL",
        side=Side.BUY,
        qty=D(qty),
        order_type=OrderType.LIMIT if limit else OrderType.MARKET,
        limit_price=D(limit) if limit else None,
    )


def bar(open_: float, close: float, volume: float = 50.0) -> Bar:
    return Bar("AAPL", T0, open_, max(open_, close), min(open_, close), close, volume)


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


async def snapshot(venue: SimVenue) -> tuple[object, ...]:
    orders = [await venue.order_by_client_id(c) for c in ("m", "l", "bad")]
    return (
        orders,
        await venue.open_orders(),
        await venue.positions(),
        await venue.account(),
        await venue.fills_since(0),
        venue.marks(),
    )


async def test_restart_restores_the_book_and_keeps_rejecting_old_ids(tmp_path: Path) -> None:
    path = tmp_path / "state" / "sim_book.json"
    clock = SimClock(T0)
    venue = make_venue(path, clock)
    await venue.submit(buy("m", "8"))  # 10% of 50 = 5 per bar: partial, then the rest
    await venue.submit(buy("l", "1", limit="10.00"))  # stays working
    rejected = await venue.submit(buy("bad", "1.5"))
    assert rejected.outcome is SubmitOutcome.REJECTED
    clock.advance(60)
    venue.on_bar(bar(100.0, 101.0))
    before = await snapshot(venue)

    # A new process: different initial cash, to show the book on disk wins.
    restarted = make_venue(path, SimClock(T0 + 120 * 10**9), cash="1")
    await restarted.connect()
    assert await snapshot(restarted) == before
    assert [f.price for f in await restarted.fills_since(0)] == [D("100.05")]

    dup = await restarted.submit(buy("m", "8"))
    assert dup.reason is not None
    assert dup.reason.code is ReasonCode.VENUE_DUPLICATE_CLIENT_ID
    dup_rejected = await restarted.submit(buy("bad", "1"))
    assert dup_rejected.reason is not None
    assert dup_rejected.reason.code is ReasonCode.VENUE_DUPLICATE_CLIENT_ID

    # Sequence numbers and venue order ids carry on where the first process stopped.
    (rest,) = restarted.on_bar(bar(102.0, 102.0))
    assert (rest.fill_id, rest.seq, rest.qty) == ("sim-f-2", 2, D(3))
    new = await restarted.submit(buy("n", "1"))
    assert new.order is not None and new.order.venue_order_id == "sim-3"


async def test_state_files_are_private_and_decimals_are_exact_strings(tmp_path: Path) -> None:
    path = tmp_path / "sim_book.json"
    log = tmp_path / "sim_book.log.jsonl"
    venue = make_venue(path)
    await venue.submit(buy("m", "1"))  # a new book's first change is its first snapshot
    doc = orjson.loads(path.read_bytes())
    assert doc["cash"] == "100000"
    assert doc["orders"][0]["qty"] == "1"
    await venue.submit(buy("l", "2", limit="99.50"))  # later changes go to the log
    (record,) = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert (record["orders"][0]["qty"], record["orders"][0]["limit_price"]) == ("2", "99.50")
    assert record["cash"] == "100000"
    for file in (path, log):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert files_in(tmp_path) == ["sim_book.json", "sim_book.log.jsonl"]  # no temp file left


async def test_marks_are_written_at_close(tmp_path: Path) -> None:
    path = tmp_path / "sim_book.json"
    venue = make_venue(path)
    await venue.submit(buy("m", "5"))
    venue.on_bar(bar(100.0, 100.0))
    venue.on_bar(bar(110.0, 120.0))  # no fill: the new mark alone is not written yet
    assert make_venue(path).marks() == {"AAPL": D("100.0")}
    await venue.close()
    reopened = make_venue(path)
    assert reopened.marks() == {"AAPL": D("120.0")}
    assert reopened.equity() == venue.equity()


async def test_book_written_after_construction_is_loaded_at_connect(tmp_path: Path) -> None:
    path = tmp_path / "sim_book.json"
    late = make_venue(path)  # no file yet
    writer = make_venue(path)
    await writer.submit(buy("m", "1"))
    await late.connect()
    assert (await late.order_by_client_id("m")) == (await writer.order_by_client_id("m"))


async def test_in_memory_venue_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    venue = make_venue(None)
    await venue.submit(buy("m", "1"))
    venue.on_bar(bar(100.0, 100.0))
    await venue.close()
    assert files_in(tmp_path) == []


def test_unreadable_book_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "sim_book.json"
    path.write_bytes(b'{"version": 1, "cash": "10')
    with pytest.raises(StartupError, match=r"sim_book\.json"):
        make_venue(path)
    path.write_bytes(b'{"version": 99}')
    with pytest.raises(StartupError, match="version"):
        make_venue(path)
