"""Folding the paper venue's old history out of its book at load (``venues.sim.fold``): the
account (cash, positions, working orders, the fill cursor, every client id seen) is the same,
the book is smaller, and what was folded is in the archive, nothing lost."""

from __future__ import annotations

from pathlib import Path

import orjson

from quantbot.testing.journal_history import write_book
from quantbot.venues.sim.book import BookFiles, load_book

HOUR_NS = 3_600 * 1_000_000_000
ORDERS = 200  # one every 86.4 s: the last hour holds 42 of them


def test_load_folds_old_ended_orders_and_fills_and_keeps_the_account(tmp_path: Path) -> None:
    path = tmp_path / "sim_venue.json"
    write_book(path, ORDERS)
    whole = load_book(path)

    files = BookFiles(path, keep_ns=HOUR_NS)
    book = files.load()
    files.close(book)

    again = load_book(path)
    for folded in (book, again):
        assert folded.cash == whole.cash and folded.positions == whole.positions
        assert folded.working() == whole.working() and len(whole.working()) == 1
        assert folded.seen_client_ids == whole.seen_client_ids
        assert folded.fills[-1] == whole.fills[-1] and folded.next_seq == whole.next_seq
        assert 0 < len(folded.orders) <= 45 and len(folded.fills) <= 45
    (archive,) = (tmp_path / "sim_venue.archive").iterdir()
    items = [orjson.loads(line) for line in archive.read_bytes().splitlines()]
    orders = {i["order"]["client_order_id"] for i in items if "order" in i}
    fills = {i["fill"]["fill_id"] for i in items if "fill" in i}
    assert orders | set(again.orders) == set(whole.orders) and not orders & set(again.orders)
    assert fills | {f.fill_id for f in again.fills} == {f.fill_id for f in whole.fills}


def test_without_keep_ns_the_book_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "sim_venue.json"
    write_book(path, ORDERS)
    files = BookFiles(path)
    book = files.load()
    files.close(book)
    assert len(load_book(path).orders) == ORDERS - 2  # the UNKNOWN and LOST never reached it
    assert not (tmp_path / "sim_venue.archive").exists()


def test_a_running_book_folds_at_the_roll_and_keeps_its_log_going(tmp_path: Path) -> None:
    path = tmp_path / "sim_venue.json"
    write_book(path, ORDERS)
    whole = load_book(path)
    files = BookFiles(path)  # loaded whole, as a daemon that started before it grew
    book = files.load()
    files._keep_ns = HOUR_NS  # the running daemon's [compaction] keep_hours

    folded = files.fold_now(book)

    assert folded > 300  # ~158 orders and their fills
    on_disk = load_book(path)  # the snapshot alone (its log emptied) is the smaller book
    assert on_disk.cash == whole.cash and on_disk.positions == whole.positions
    assert on_disk.working() == whole.working()
    assert on_disk.seen_client_ids == whole.seen_client_ids
    assert len(on_disk.orders) <= 45 and len(book.orders) <= 45
    (archive,) = (tmp_path / "sim_venue.archive").iterdir()
    assert len(archive.read_bytes().splitlines()) == folded
    assert files.fold_now(book) == 0  # nothing old enough is left
    files.close(book)
