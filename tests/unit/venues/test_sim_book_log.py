"""The paper venue's snapshot + append-only log: crash replay, torn and corrupt lines,
compaction, and a per-change cost that does not grow with the history."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import attrs
import orjson
import pytest

from quantbot.clock import SimClock
from quantbot.domain.errors import StartupError
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import (
    Bar,
    Fill,
    Instrument,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Position,
    Side,
)
from quantbot.venues.sim import SimVenue
from quantbot.venues.sim import book as book_module
from quantbot.venues.sim.book import load_book, read_book
from quantbot.venues.sim.codec import (
    book_chunks,
    decode_fill,
    decode_order,
    decode_position,
    fill_doc,
    order_doc,
    position_doc,
)

D = Decimal
T0 = 1_700_000_000_000_000_000
INSTRUMENTS = {"AAPL": Instrument("AAPL", tick_size=D("0.01"), lot_size=D(1))}
IDS = ("m", "l", "st", "bad", "c1", "c2")


def make_venue(path: Path, clock: SimClock | None = None, *, sync_each: bool = True) -> SimVenue:
    return SimVenue(
        clock=clock or SimClock(T0),
        instruments=INSTRUMENTS,
        state_path=path,
        initial_cash=D(100000),
        fee_bps=10.0,
        slippage_bps=5.0,
        participation_cap=0.1,
        sync_each_change=sync_each,
    )


def intent(
    cid: str, side: Side, qty: str, *, limit: str | None = None, stop: str | None = None
) -> OrderIntent:
    order_type = OrderType.LIMIT if limit else OrderType.STOP if stop else OrderType.MARKET
    return OrderIntent(
        client_order_id=cid,
        decision_id="AAPL@0",
        symbol="AAPL",
        side=side,
        qty=D(qty),
        order_type=order_type,
        limit_price=D(limit) if limit else None,
        stop_price=D(stop) if stop else None,
    )


def bar(open_: float, high: float, low: float, close: float, volume: float = 50.0) -> Bar:
    return Bar("AAPL", T0, open_, high, low, close, volume)


async def busy_venue(path: Path) -> SimVenue:
    """A venue after every kind of change: partial fill, armed stop, reject, cancels."""
    clock = SimClock(T0)
    venue = make_venue(path, clock)
    await venue.submit(intent("m", Side.BUY, "8"))  # 10% of 50 = 5 a bar: partial
    await venue.submit(intent("l", Side.BUY, "1", limit="10.00"))  # stays working
    await venue.submit(intent("st", Side.SELL, "8", stop="99.00"))  # triggers, fills 5 of 8
    await venue.submit(intent("bad", Side.BUY, "1.5"))  # rejected: lot size
    await venue.submit(intent("c1", Side.BUY, "1", limit="11.00"))
    await venue.submit(intent("c2", Side.BUY, "1", limit="12.00"))
    clock.advance(60)
    venue.on_bar(bar(100.0, 101.0, 98.0, 100.5))
    await venue.cancel("c1")
    await venue.cancel_all()  # everything still open: m, l, st (armed), c2
    return venue


async def state(venue: SimVenue) -> tuple[object, ...]:
    return (
        [await venue.order_by_client_id(c) for c in IDS],
        await venue.open_orders(),
        await venue.positions(),
        await venue.account(),
        await venue.fills_since(0),
        venue.marks(),
    )


def log_of(path: Path) -> Path:
    return path.with_name("sim_venue.log.jsonl")


# ------------------------------------------------------------ crash replay


async def test_restart_after_a_crash_replays_the_log(tmp_path: Path) -> None:
    path = tmp_path / "state" / "sim_venue.json"
    clock = SimClock(T0)
    venue = make_venue(path, clock)
    await venue.submit(intent("m", Side.BUY, "8"))
    await venue.submit(intent("st", Side.SELL, "8", stop="99.00"))
    await venue.submit(intent("l", Side.BUY, "1", limit="10.00"))
    await venue.submit(intent("bad", Side.BUY, "1.5"))
    clock.advance(60)
    fills = venue.on_bar(bar(100.0, 101.0, 98.0, 100.5))
    assert [f.client_order_id for f in fills] == ["m", "st"]
    await venue.cancel("l")
    before = await state(venue)
    assert log_of(path).stat().st_size > 0
    # No close(): the process was killed. Everything acknowledged is in snapshot + log.

    restarted = make_venue(path, clock)
    assert await state(restarted) == before
    assert restarted._book.armed_stops == {"st"}
    for cid in ("m", "bad", "l"):
        dup = await restarted.submit(intent(cid, Side.BUY, "1"))
        assert dup.reason is not None
        assert dup.reason.code is ReasonCode.VENUE_DUPLICATE_CLIENT_ID
    # The armed stop fills its remainder although this bar never trades through 99.
    later = restarted.on_bar(bar(102.0, 103.0, 101.5, 102.0))
    assert [(f.client_order_id, f.seq, f.fill_id) for f in later] == [
        ("m", 3, "sim-f-3"),
        ("st", 4, "sim-f-4"),
    ]
    new = await restarted.submit(intent("n", Side.BUY, "1"))
    assert new.order is not None and new.order.venue_order_id == "sim-4"


async def test_load_book_returns_snapshot_plus_log(tmp_path: Path) -> None:
    path = tmp_path / "sim_venue.json"
    venue = await busy_venue(path)
    assert log_of(path).stat().st_size > 0
    book = load_book(path)  # a pure read: the files stay as they are
    assert log_of(path).stat().st_size > 0
    assert book.orders == venue._book.orders
    assert book.fills == venue._book.fills
    assert (book.cash, book.positions, book.marks) == (
        venue._book.cash,
        venue._book.positions,
        venue._book.marks,
    )
    assert (book.next_seq, book.next_order_no) == (venue._book.next_seq, venue._book.next_order_no)
    assert book.seen_client_ids == set(IDS)


async def test_load_compacts_into_the_snapshot_and_empties_the_log(tmp_path: Path) -> None:
    path = tmp_path / "sim_venue.json"
    before = await state(await busy_venue(path))
    records = len(log_of(path).read_bytes().splitlines())
    assert records > 0

    reopened = make_venue(path)
    assert log_of(path).read_bytes() == b""
    doc = orjson.loads(path.read_bytes())
    assert doc["log_n"] == records
    assert [o["client_order_id"] for o in doc["orders"]] == list(IDS)
    assert [f["seq"] for f in doc["fills"]] == [f.seq for f in await reopened.fills_since(0)]
    log_of(path).unlink()  # the snapshot alone holds everything
    assert await state(make_venue(path)) == before


async def test_records_already_in_the_snapshot_are_not_applied_twice(tmp_path: Path) -> None:
    path = tmp_path / "sim_venue.json"
    before = await state(await busy_venue(path))
    stale = log_of(path).read_bytes()
    make_venue(path)  # compacts
    log_of(path).write_bytes(stale)  # as if it crashed between the snapshot and the truncate
    assert await state(make_venue(path)) == before


# ------------------------------------------------------------ torn and corrupt lines


async def test_torn_last_line_is_dropped_and_the_log_is_usable_after(tmp_path: Path) -> None:
    path = tmp_path / "sim_venue.json"
    before = await state(await busy_venue(path))
    with log_of(path).open("ab") as f:
        f.write(b'{"n": 99, "cash": "12')  # a crash mid-append: never acknowledged
    restarted = make_venue(path)
    assert await state(restarted) == before
    assert log_of(path).read_bytes() == b""  # the torn bytes are gone with the compaction

    await restarted.submit(intent("after", Side.BUY, "1"))
    again = make_venue(path)
    order = await again.order_by_client_id("after")
    assert order is not None and order.status is OrderStatus.ACCEPTED


async def test_complete_last_line_without_its_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "sim_venue.json"
    before = await state(await busy_venue(path))
    log_of(path).write_bytes(log_of(path).read_bytes().rstrip(b"\n"))
    assert await state(make_venue(path)) == before


@pytest.mark.parametrize(
    "bad",
    [
        b"not json",
        b'{"n": 2}',  # parses but lacks fields
        b'{"n": 7, "cash": "1", "next_seq": 1, "next_order_no": 1, "orders": [], "fills": [],'
        b' "positions": [], "marks": {}, "armed": []}',  # a gap in the numbering
    ],
)
async def test_corrupt_middle_line_refuses_to_start(tmp_path: Path, bad: bytes) -> None:
    path = tmp_path / "sim_venue.json"
    await busy_venue(path)
    lines = log_of(path).read_bytes().splitlines(keepends=True)
    assert len(lines) >= 3
    lines[1] = bad + b"\n"
    log_of(path).write_bytes(b"".join(lines))
    with pytest.raises(StartupError, match=r"sim_venue\.log\.jsonl:2"):
        make_venue(path)
    with pytest.raises(StartupError, match=r"sim_venue\.log\.jsonl:2"):
        load_book(path)


async def test_log_without_its_snapshot_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "sim_venue.json"
    await busy_venue(path)
    path.unlink()
    with pytest.raises(StartupError, match=r"sim_venue\.json"):
        make_venue(path)


async def test_failed_append_leaves_the_log_whole_and_the_change_pending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sim_venue.json"
    venue = make_venue(path)
    await venue.submit(intent("a", Side.BUY, "1"))
    await venue.submit(intent("b", Side.BUY, "1"))
    size = log_of(path).stat().st_size

    def broken_sync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(book_module, "_sync", broken_sync)
    with pytest.raises(OSError, match="Input/output"):
        await venue.submit(intent("c", Side.BUY, "1"))
    assert log_of(path).stat().st_size == size  # no half line for the next append to follow
    monkeypatch.undo()

    await venue.submit(intent("d", Side.BUY, "1"))  # carries c too: it was never persisted
    restarted = make_venue(path)
    assert [o.client_order_id for o in await restarted.open_orders()] == ["a", "b", "c", "d"]


# ------------------------------------------------------------ cost and encodings


async def test_bytes_per_change_do_not_grow_with_history(tmp_path: Path) -> None:
    path = tmp_path / "sim_venue.json"
    venue = make_venue(path)
    snapshot_size = 0
    appended: dict[int, int] = {}
    for i in range(1, 501):
        start = log_of(path).stat().st_size if log_of(path).exists() else 0
        side = Side.BUY if i % 2 else Side.SELL
        await venue.submit(intent(f"o{i:04d}", side, "1"))
        (fill,) = venue.on_bar(bar(100.0, 101.0, 99.0, 100.0, volume=1000.0))
        assert fill.seq == i
        appended[i] = log_of(path).stat().st_size - start
        if i == 2:
            snapshot_size = path.stat().st_size
    assert path.stat().st_size == snapshot_size  # the snapshot is not rewritten per change
    assert appended[500] < 2 * appended[10]
    assert len(log_of(path).read_bytes().splitlines()) == 2 * 500 - 1  # first: the snapshot
    await venue.close()
    assert log_of(path).read_bytes() == b""
    assert len(load_book(path).fills) == 500


def test_version_1_book_is_read_as_a_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "sim_venue.json"
    doc = {
        "version": 1,
        "cash": "99.5",
        "next_seq": 1,
        "next_order_no": 1,
        "marks": {"AAPL": "101.25"},
        "positions": [],
        "orders": [],
        "fills": [],
        "seen_client_ids": ["x"],
        "armed_stops": [],
    }
    path.write_bytes(orjson.dumps(doc))
    loaded = read_book(path)
    assert (loaded.book.cash, loaded.book.marks, loaded.log_n) == (
        D("99.5"),
        {"AAPL": D("101.25")},
        0,
    )
    make_venue(path)
    assert orjson.loads(path.read_bytes())["version"] == 3


def test_hand_written_encoders_cover_every_field_and_round_trip() -> None:
    order = Order(
        "c", "AAPL", Side.SELL, D("3"), OrderType.STOP, OrderStatus.PARTIALLY_FILLED,
        limit_price=None, stop_price=D("9.50"), venue_order_id="sim-1", filled_qty=D("1"),
        avg_fill_price=D("9.4905"), created_ts_ns=T0, reason=None, trail_pct=D("0.02"),
        oco_group="g1", reduce_only=True,
    )  # fmt: skip
    fill = Fill("f", "c", "AAPL", Side.SELL, D("1"), D("9.4905"), D("0.0095"), T0, "sim-1", 7)
    position = Position("AAPL", D("-1"), D("9.4905"), D("-0.0095"))
    cases = [
        (order, order_doc, decode_order),
        (fill, fill_doc, decode_fill),
        (position, position_doc, decode_position),
    ]
    for value, encode, decode in cases:
        doc = encode(value)
        assert list(doc) == [f.name for f in attrs.fields(type(value))]
        assert decode(orjson.loads(orjson.dumps(doc))) == value


async def test_a_replay_book_syncs_at_close_not_at_each_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A paper venue syncs each change before acknowledging it; a replay's venue
    (``sync_each_change=False``) writes the same log lines and syncs only when it closes."""
    synced: list[int] = []
    monkeypatch.setattr(book_module, "_sync", synced.append)
    paper, replay = tmp_path / "paper" / "sim_venue.json", tmp_path / "replay" / "sim_venue.json"
    venues = {"paper": make_venue(paper), "replay": make_venue(replay, sync_each=False)}
    syncs = {}
    for name, venue in venues.items():
        synced.clear()
        for i in range(1, 6):
            await venue.submit(intent(f"o{i}", Side.BUY, "1", limit="100"))
        syncs[name] = len(synced)
    assert syncs == {"paper": 4, "replay": 0}  # the first change writes the snapshot
    assert log_of(paper).read_bytes() == log_of(replay).read_bytes()
    await venues["replay"].close()
    restarted = make_venue(replay)
    opened = [o.client_order_id for o in await restarted.open_orders()]
    assert opened == [f"o{i}" for i in range(1, 6)]


async def test_the_snapshot_written_in_pieces_is_the_same_document(tmp_path: Path) -> None:
    """A long history is written a few orders at a time; the file is the same JSON document,
    byte for byte, as one ``orjson.dumps`` of the whole book would be."""
    path = tmp_path / "sim_venue.json"
    venue = make_venue(path)
    for i in range(1, 6):
        await venue.submit(intent(f"o{i}", Side.BUY if i % 2 else Side.SELL, "1"))
        venue.on_bar(bar(100.0, 101.0, 99.0, 100.0, volume=1000.0))
    await venue.submit(intent("w", Side.BUY, "1", limit="90"))  # still working
    await venue.close()
    written = path.read_bytes()
    document = orjson.loads(written)
    assert (len(document["orders"]), len(document["fills"])) == (6, 5)
    assert written == orjson.dumps(document)
    book = load_book(path)
    for per_chunk in (1, 2, 1000):
        chunks = list(book_chunks(book, document["log_n"], per_chunk=per_chunk))
        assert b"".join(chunks) == written, per_chunk
