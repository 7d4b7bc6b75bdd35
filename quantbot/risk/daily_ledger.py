"""The daily risk guard's ledger in ``state/``: every reserve, settle and denial, one per line.

Append-only JSONL written with orjson: each event has ``ts`` (RFC 3339 UTC), ``day`` (the
trading day it belongs to), ``type`` and its own fields. Every line is flushed as it is
written; RESERVE and ROLL lines are also fsync'd before ``append`` returns, because a
reservation precedes the submit (like the order journal's INTENT line) and a roll decides
which losses still count. Other lines may be lost in a crash only together with the process
state they describe.

Read back at start like the order journal: a torn last line (a crash mid-write) is set aside
in ``<file>.torn-<n>`` and reported; an unreadable line anywhere else refuses the start.
``DailyBook`` is the state the events build; the guard changes it only by applying the event
it has just written, so replaying the file rebuilds exactly the same book.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import orjson

from quantbot.domain.errors import InvariantViolation, StartupError
from quantbot.domain.evolve import evolve
from quantbot.fsutil import (
    OWNER_ONLY_FILE,
    open_private,
    open_private_file,
    read_private,
    set_aside_torn_tail,
)
from quantbot.records.append_file import AppendFile, reopened
from quantbot.risk.turnover import TurnoverCount

GLOBAL = "GLOBAL"  # the scope of the total policy; every sleeve is also a scope


class EventType:
    RESERVE = "RESERVE"  # an order reserved exposure and open risk before it was sent
    SETTLE = "SETTLE"  # a fill used up reserve, added held notional and/or opened exposure
    OPEN = "OPEN"  # an order the guard never reserved opened exposure (booked to GLOBAL)
    RELEASE = "RELEASE"  # an order ended: its unfilled reserve is free again
    REDUCE = "REDUCE"  # a fill shrank a position: held notional and risk of the symbol scaled
    PNL = "PNL"  # realised pnl booked to GLOBAL and sleeves
    DENY = "DENY"  # a reservation refused, with its reason
    ROLL = "ROLL"  # a new trading day: realised pnl and opened exposure start again from 0
    SNAPSHOT = "SNAPSHOT"  # the book just after a ROLL, for the lines before it (compaction)


EVENT_TYPES = frozenset(
    value for name, value in vars(EventType).items() if not name.startswith("_")
)
_DURABLE = frozenset({EventType.RESERVE, EventType.ROLL})
_BUFFER_BYTES = 1 << 16  # a replay's lines reach the OS in blocks this big


@attrs.frozen(slots=True)
class LedgerReplay:
    """What was read back: the events (with their 1-based line numbers, for error messages)
    and, when the last line was torn, its bytes and where they were set aside."""

    events: tuple[dict[str, Any], ...]
    line_numbers: tuple[int, ...]
    torn_line: bytes | None = None
    torn_saved_to: Path | None = None


def read_events(path: Path) -> LedgerReplay:
    """Read every event of ``path``; set a torn last line aside; refuse a corrupt middle.

    A line that is not JSON is torn when it is the last one (nothing after it but blank
    space) and corrupt anywhere else. A readable line that is not a ledger event is corrupt
    wherever it is: it was written whole, so it cannot be a crash artefact. A complete last
    event that only lacks its newline is kept, and the newline is added.

    Raises ``StartupError`` naming the file and line for a corrupt history.
    """
    if not path.exists():
        return LedgerReplay((), ())
    raw = read_private(path)
    chunks = raw.split(b"\n")
    last = max((i for i, chunk in enumerate(chunks) if chunk.strip()), default=-1)
    events: list[dict[str, Any]] = []
    numbers: list[int] = []
    offset = 0
    for index, chunk in enumerate(chunks):
        if chunk.strip():
            try:
                event = orjson.loads(chunk)
            except orjson.JSONDecodeError as e:
                if index != last:
                    raise _corrupt(path, index + 1, str(e)) from e
                torn = raw[offset:]
                saved = set_aside_torn_tail(path, offset, torn)
                return LedgerReplay(tuple(events), tuple(numbers), torn, saved)
            _check_shape(path, index + 1, event)
            events.append(event)
            numbers.append(index + 1)
        offset += len(chunk) + 1
    if raw and not raw.endswith(b"\n") and chunks[-1].strip():
        with open_private_file(path, "ab") as f:
            f.write(b"\n")
    return LedgerReplay(tuple(events), tuple(numbers))


def _check_shape(path: Path, number: int, event: Any) -> None:
    if not isinstance(event, dict):
        raise _corrupt(path, number, "not a JSON object")
    if event.get("type") not in EVENT_TYPES:
        raise _corrupt(path, number, f"unknown event type {event.get('type')!r}")
    if not isinstance(event.get("day"), str):
        raise _corrupt(path, number, "event has no trading day")


def _corrupt(path: Path, number: int, problem: str) -> StartupError:
    return StartupError(
        f"{path}:{number}: daily risk ledger line is corrupt ({problem}); refusing to start "
        "on limits that cannot be rebuilt. Check the file by hand before moving it aside."
    )


class DailyLedger:
    """Appends events to ``path`` (created owner-only, 0o600, if missing)."""

    def __init__(self, path: Path, *, sync_durable: bool = True) -> None:
        self.path = path
        # False (a replay, see records.durability): lines are buffered until close.
        self._sync_durable = sync_durable
        fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        # A file left behind with looser permissions by hand is tightened, not trusted.
        os.fchmod(fd, OWNER_ONLY_FILE)
        self._file = AppendFile(fd)

    def append(self, event: Mapping[str, Any]) -> None:
        """Write one event line and flush it; RESERVE and ROLL are on disk when this returns.

        A write that fails (disk full) raises ``OSError``. A RESERVE is then taken back (no
        order is sent on it); any other line stays queued, in order, and goes out first with
        the next write, so a line is never torn by another (``records.append_file``)."""
        if event.get("type") not in EVENT_TYPES:
            raise ValueError(f"not a daily ledger event type: {event.get('type')!r}")
        line = orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE)
        self._file.append(line)
        if not self._sync_durable:
            if self._file.pending >= _BUFFER_BYTES:
                self._file.flush()
            return
        if event["type"] not in _DURABLE:
            self._file.flush()
            return
        try:
            self._file.sync()
        except OSError:
            if event["type"] == EventType.RESERVE:
                with contextlib.suppress(OSError):  # then its rest stays queued: not torn
                    self._file.withdraw(len(line))
            raise

    @property
    def closed(self) -> bool:
        return self._file.closed

    def flush(self) -> int:
        """Hand what is pending to the OS; the bytes still pending (a failing disk)."""
        with contextlib.suppress(OSError):
            self._file.flush()
        return self._file.pending

    def reopen(self) -> None:
        """Append to the file now at ``path`` if compaction replaced the one open
        (``risk.daily_compaction.compact_running``); a no-op otherwise."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        self._file = reopened(self._file, self.path, lambda: open_private(self.path, flags))

    def close(self) -> None:
        """Make everything appended durable and close the file (closed even when that fails;
        the ``OSError`` is raised after)."""
        if self._file.closed:
            return
        try:
            self._file.sync()
        finally:
            self._file.close()


@attrs.frozen(slots=True)
class ReservedOrder:
    """An order the guard reserved for, kept for the day to attribute its fills and pnl."""

    symbol: str
    sleeve: str
    notional_usd: float  # as reserved
    risk_usd: float
    remaining_usd: float  # neither filled nor released yet

    def risk_of(self, notional_usd: float) -> float:
        """Open risk of ``notional_usd`` of this order, at the ratio it was reserved with."""
        return self.risk_usd * (notional_usd / self.notional_usd) if self.notional_usd else 0.0


@attrs.frozen(slots=True)
class Held:
    """Notional a sleeve holds in one symbol from its fills, and that notional's open risk."""

    notional_usd: float
    risk_usd: float


class DailyBook:
    """Reserves, held notional, today's opened notional and realised pnl, as built by ledger
    events."""

    def __init__(self, day: str) -> None:
        self.day = day
        self.orders: dict[str, ReservedOrder] = {}  # by client id
        # The orders above with part of their reserve left (the limits' terms), in the same
        # order: a reservation reads these, not every order of the day.
        self.live: dict[str, ReservedOrder] = {}
        self.held: dict[tuple[str, str], Held] = {}  # by (sleeve, symbol)
        self.opened: dict[str, float] = {}  # notional opened today, by scope
        self.pnl: dict[str, float] = {}  # realised today, by scope
        self.turnover = TurnoverCount()  # today's entries by symbol (risk/turnover)

    def reserved_terms(self, scope: str) -> list[float]:
        """What ``scope``'s orders in flight still reserve, one amount per order."""
        if scope == GLOBAL:
            return [o.remaining_usd for o in self.live.values()]
        return [o.remaining_usd for o in self.live.values() if o.sleeve == scope]

    def held_terms(self, scope: str) -> list[float]:
        """The notional ``scope`` holds from its fills, one amount per symbol and sleeve."""
        return [h.notional_usd for (s, _), h in self.held.items() if scope in (GLOBAL, s)]

    def risk_terms(self, scope: str) -> list[float]:
        """The amounts whose sum is ``scope``'s open risk: reserved and held."""
        live = self.live.values()
        if scope != GLOBAL:
            live = [o for o in live if o.sleeve == scope]  # type: ignore[assignment]
        risks = [o.risk_of(o.remaining_usd) for o in live]
        risks += [h.risk_usd for (s, _), h in self.held.items() if scope in (GLOBAL, s)]
        return risks

    def sleeves(self, pnl: Mapping[str, float], opened: Mapping[str, float]) -> list[str]:
        """Sorted sleeves with a reserve, a holding, notional ``opened`` today or realised
        ``pnl`` (today's, by scope)."""
        known = {o.sleeve for o in self.live.values()}
        today = (set(pnl) | set(opened)) - {GLOBAL}
        return sorted(known | {s for s, _ in self.held} | today)

    def pnl_split(self, order: ReservedOrder | None, symbol: str, pnl: float) -> dict[str, float]:
        """How realised ``pnl`` of a fill is booked to sleeves (GLOBAL always gets all of it):
        to the order's sleeve when it was reserved, else to the sleeves holding ``symbol`` in
        proportion to their held notional (none when no sleeve holds it)."""
        if order is not None:
            return {order.sleeve: pnl}
        holders = {s: h.notional_usd for (s, sym), h in self.held.items() if sym == symbol}
        total = math.fsum(holders.values())
        if total <= 0.0:
            return {}
        return {sleeve: pnl * (held / total) for sleeve, held in holders.items() if held > 0.0}

    def _put(self, cid: str, order: ReservedOrder) -> None:
        """The one way an order's reserve changes, so ``live`` always follows ``orders``."""
        self.orders[cid] = order
        if order.remaining_usd > 0.0:
            self.live[cid] = order
        else:
            self.live.pop(cid, None)

    def _index(self) -> None:
        self.live = {c: o for c, o in self.orders.items() if o.remaining_usd > 0.0}

    def apply(self, event: Mapping[str, Any]) -> None:
        """Change the book as ``event`` says (DENY changes nothing)."""
        kind = event["type"]
        if kind == EventType.RESERVE:
            notional = float(event["notional_usd"])
            self._put(
                event["client_order_id"],
                ReservedOrder(
                    event["symbol"], event["sleeve"], notional, float(event["risk_usd"]), notional
                ),
            )
            self.turnover.reserved(event["client_order_id"], event["symbol"], notional)
        elif kind == EventType.SETTLE:
            self._settle(event)
        elif kind == EventType.RELEASE:
            cid = event["client_order_id"]
            self._put(cid, evolve(self.orders[cid], remaining_usd=0.0))
            self.turnover.released(cid, event["symbol"], float(event["notional_usd"]))
        elif kind == EventType.REDUCE:
            self._reduce(event["symbol"], float(event["factor"]))
        elif kind == EventType.OPEN:
            self._open(GLOBAL, float(event["opened_usd"]))
        elif kind == EventType.PNL:
            self._book(GLOBAL, float(event["pnl_usd"]))
            for sleeve, amount in event["by_sleeve"].items():
                self._book(sleeve, float(amount))
        elif kind == EventType.SNAPSHOT:
            self.day, self.pnl, self.opened, self.turnover = event["day"], {}, {}, TurnoverCount()
            self.orders = {cid: ReservedOrder(*o) for cid, o in event["orders"].items()}
            self._index()
            self.held = {(s, sym): Held(n, r) for s, sym, n, r in event["held"]}
        elif kind == EventType.ROLL:
            self.day = event["day"]
            self.pnl = {}
            self.opened = {}
            self.turnover = TurnoverCount()
            # Finished orders are kept only for their day, to attribute late fills and pnl.
            self.orders = {c: o for c, o in self.orders.items() if o.remaining_usd > 0.0}
            self._index()

    def _settle(self, event: Mapping[str, Any]) -> None:
        cid = event["client_order_id"]
        order = self.orders[cid]
        used = min(float(event["reserve_used_usd"]), order.remaining_usd)
        self._put(cid, evolve(order, remaining_usd=order.remaining_usd - used))
        # A ledger written before opened exposure was counted: an added holding was opened.
        opened = float(event.get("opened_usd", event["held_usd"]))
        if opened > 0.0:
            self._open(GLOBAL, opened)
            self._open(order.sleeve, opened)
        key = (order.sleeve, order.symbol)
        held = self.held.get(key, Held(0.0, 0.0))
        added = Held(
            held.notional_usd + float(event["held_usd"]),
            held.risk_usd + float(event["held_risk_usd"]),
        )
        if added.notional_usd > 0.0 or added.risk_usd > 0.0:
            self.held[key] = added

    def _reduce(self, symbol: str, factor: float) -> None:
        if not 0.0 <= factor < 1.0:
            raise InvariantViolation(f"reduction factor must be in [0, 1), got {factor}")
        for key in [k for k in self.held if k[1] == symbol]:
            if factor == 0.0:
                del self.held[key]  # flat: nothing held, and the table stays small
            else:
                held = self.held[key]
                self.held[key] = Held(held.notional_usd * factor, held.risk_usd * factor)

    def _open(self, scope: str, amount: float) -> None:
        self.opened[scope] = self.opened.get(scope, 0.0) + amount

    def _book(self, scope: str, amount: float) -> None:
        self.pnl[scope] = self.pnl.get(scope, 0.0) + amount
