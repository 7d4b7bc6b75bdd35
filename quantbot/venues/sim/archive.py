"""Where the paper book's ended orders and old fills go when they leave memory.

A paper daemon that trades for months sends hundreds of thousands of orders; the book it holds
in memory keeps only its working orders, its latest ended orders and fills (``SimVenue``'s
``keep_in_memory``), so its size stays flat in the number of orders. What leaves memory goes
here first: ``state/sim_venue.archive/book.sqlite3`` (SQLite, stdlib: indexed look-ups from
disk, memory bounded by its page cache), one row per order (by client order id) and per fill
(by seq), each the same document the book's files use (``codec.py``), and the bare client ids
the book saw whose orders were folded out at a start (``fold.py``). The venue still answers
for them: a duplicate client id is refused (``has``), ``order_by_client_id`` and ``cancel``
find an ended order (``order``), ``fills_since`` returns old fills (``fills_between``).

Rows are written and committed (synced when the book syncs each change) before the book drops
them, and the book's own log still holds them until its next snapshot, so a crash at any
point loses nothing; writing one again replaces it with the same document. The file is
created owner-only (SQLite gives its journal the database's mode).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from quantbot.domain.values import Fill, Order
from quantbot.fsutil import ensure_private_dir, open_private
from quantbot.venues.sim.codec import decode_fill, decode_order, fill_doc, order_doc

if TYPE_CHECKING:
    import sqlite3

ARCHIVE_FILE = "book.sqlite3"  # in fold.ARCHIVE_DIR, beside what compaction folded
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS orders (client_order_id TEXT PRIMARY KEY, doc BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS fills (seq INTEGER PRIMARY KEY, doc BLOB NOT NULL)",
    # client ids seen without an order kept (folded out at a start, ``fold.py``)
    "CREATE TABLE IF NOT EXISTS ids (client_order_id TEXT PRIMARY KEY)",
)
_HAS = (
    "SELECT 1 FROM orders WHERE client_order_id = ?1"
    " UNION ALL SELECT 1 FROM ids WHERE client_order_id = ?1 LIMIT 1"
)


class BookArchive:
    """The archive at ``path``, opened on first use (nothing is created until a write)."""

    def __init__(self, path: Path, *, sync: bool = True) -> None:
        self.path = path
        self._sync = sync  # False: a replay's book (a crashed replay is run again)
        self._db: sqlite3.Connection | None = None
        # No file when first looked for: none until this archive writes one (the state lock
        # keeps every other writer out), so a look-up before then is free (most runs: all).
        self._absent = False

    def _open(self, create: bool) -> sqlite3.Connection | None:
        if self._db is None:
            if self._absent and not create:
                return None
            if not self.path.exists():
                if not create:
                    self._absent = True
                    return None
                ensure_private_dir(self.path.parent)
                os.close(open_private(self.path, os.O_WRONLY | os.O_CREAT))
            # Imported on first use: most runs never shed, and SQLite costs ~1 MB of RSS.
            import sqlite3  # noqa: PLC0415

            db = sqlite3.connect(self.path, isolation_level=None)
            db.execute(f"PRAGMA synchronous = {'FULL' if self._sync else 'OFF'}")
            for statement in _SCHEMA:
                db.execute(statement)
            self._db = db
        return self._db

    def put(self, orders: Iterable[Order], fills: Iterable[Fill], ids: Iterable[str] = ()) -> None:
        """Write ``orders``, ``fills`` and bare client ``ids`` in one transaction, durably
        (``sync``)."""
        db = self._open(create=True)
        assert db is not None
        # rows made one at a time as SQLite takes them: never a batch's documents at once
        order_rows = ((o.client_order_id, orjson.dumps(order_doc(o))) for o in orders)
        fill_rows = ((f.seq, orjson.dumps(fill_doc(f))) for f in fills)
        with db:  # BEGIN ... COMMIT, or ROLLBACK on an error
            db.execute("BEGIN")
            db.executemany("INSERT OR REPLACE INTO orders VALUES (?, ?)", order_rows)
            db.executemany("INSERT OR REPLACE INTO fills VALUES (?, ?)", fill_rows)
            db.executemany("INSERT OR IGNORE INTO ids VALUES (?)", ((i,) for i in ids))

    def order(self, client_order_id: str) -> Order | None:
        db = self._open(create=False)
        if db is None:
            return None
        row = db.execute(
            "SELECT doc FROM orders WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        return decode_order(orjson.loads(row[0])) if row is not None else None

    def has(self, client_order_id: str) -> bool:
        db = self._open(create=False)
        if db is None:
            return False
        return db.execute(_HAS, (client_order_id,)).fetchone() is not None

    def fills_between(self, after_seq: int, before_seq: int) -> list[Fill]:
        """Archived fills with ``after_seq < seq < before_seq``, ascending."""
        db = self._open(create=False)
        if db is None:
            return []
        rows = db.execute(
            "SELECT doc FROM fills WHERE seq > ? AND seq < ? ORDER BY seq", (after_seq, before_seq)
        )
        return [decode_fill(orjson.loads(doc)) for (doc,) in rows]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
