"""What the replay report reads from a replay's directory, beside the summary it is handed:
each symbol's bars (from the decision records), the journal's fills, the round trips
(``trades.csv`` when the replay wrote one, else matched from the fills, oldest lot first),
and the profile and config from the run manifest. Everything is read defensively: a file
that is missing gives an empty part, and the page says "n/a" or leaves the chart out."""

from __future__ import annotations

import csv
from array import array
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import orjson

from quantbot.clock import NS_PER_S

NS_PER_DAY = 86_400 * NS_PER_S


@attrs.frozen
class Fill:
    ts_ns: int
    symbol: str
    side: str  # BUY | SELL
    qty: float
    price: float
    fee: float
    reason: str  # what sent the order: "signal", or the exit leg's role


@attrs.frozen
class Trade:
    """One round trip (or the open rest of one), as ``trades.csv`` lists it."""

    symbol: str
    side: str  # long | short
    qty: float
    entry_ns: int
    entry_price: float
    exit_ns: int | None  # None: still open at the end of the replay
    exit_price: float | None
    pnl: float | None
    holding_days: float | None
    exit_reason: str


@attrs.frozen
class Prices:
    """One symbol's bar times and closes, ascending: compact arrays (``array('q')`` and
    ``array('d')``, 16 bytes a bar) when read from a replay, as a run has one per bar."""

    ts: Sequence[int]
    close: Sequence[float]


@attrs.frozen
class ReplayFiles:
    prices: dict[str, Prices]
    fills: list[Fill]
    trades: list[Trade]
    trades_source: str  # "trades.csv" | "journal fills"
    profile: str | None
    config: dict[str, Any] | None


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open("rb") as f:
        for line in f:
            if line.strip():
                try:
                    yield orjson.loads(line)
                except orjson.JSONDecodeError:
                    return  # a torn last line: what came before is still shown


def to_ns(value: Any) -> int | None:
    """A time as the replay's files write it: ns integers, ISO strings (``Z`` or offset,
    with or without a time part) or epoch seconds/ms/µs; None for empty or unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        n = int(value)
        for scale in (1, 10**3, 10**6, 10**9):  # ns, µs, ms, s
            if n * scale >= 10**17:
                return n * scale
        return n * NS_PER_S
    text = str(value).strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp()) * NS_PER_S + parsed.microsecond * 1000


def read_prices(decisions: Path) -> dict[str, Prices]:
    """Each symbol's closes, one per bar the replay decided on."""
    ts: dict[str, array[int]] = defaultdict(lambda: array("q"))
    close: dict[str, array[float]] = defaultdict(lambda: array("d"))
    for record in _jsonl(decisions):
        bar, symbol = record.get("bar"), record.get("symbol")
        at = to_ns(record.get("bar_ts"))
        if not record.get("decision_id") or not bar or at is None or "c" not in bar:
            continue
        if ts[symbol] and at <= ts[symbol][-1]:
            continue  # one point per bar time
        ts[symbol].append(at)
        close[symbol].append(float(bar["c"]))
    return {s: Prices(ts[s], close[s]) for s in sorted(ts)}


def read_fills(journal: Path) -> list[Fill]:
    """The journal's fills in order, each with what sent its order (an exit leg's role)."""
    role: dict[str, str] = {}
    fills = []
    for e in _jsonl(journal):
        kind = e.get("type")
        if kind == "INTENT":
            role[e.get("client_order_id", "")] = e.get("exit_role") or (
                "exit" if str(e.get("decision_id", "")).startswith("exit:") else "signal"
            )
        elif kind == "FILL":
            at = to_ns(e.get("fill_ts_ns") or e.get("ts_ns"))
            if at is None:
                continue
            fills.append(
                Fill(
                    ts_ns=at,
                    symbol=str(e.get("symbol")),
                    side=str(e.get("side")),
                    qty=float(e.get("qty", 0)),
                    price=float(e.get("price", 0)),
                    fee=float(e.get("fee") or 0),
                    reason=role.get(e.get("client_order_id", ""), "signal"),
                )
            )
    return fills


def round_trips(fills: list[Fill], marks: dict[str, float]) -> list[Trade]:
    """The fills matched into round trips per symbol, oldest open lot first: a fill against
    the position closes lots (one trade each, split where it closes part of one), and what
    is left of it opens a lot. Lots still open at the end are trades without an exit, their
    PnL marked at ``marks`` (each symbol's last close). PnL is after both fills' fees."""
    lots: dict[str, deque[list[Any]]] = defaultdict(deque)  # [signed qty, price, ts, fee/unit]
    trades: list[Trade] = []
    for f in fills:
        sign = 1.0 if f.side == "BUY" else -1.0
        left = f.qty
        fee_unit = f.fee / f.qty if f.qty else 0.0
        book = lots[f.symbol]
        while left > 1e-12 and book and book[0][0] * sign < 0:
            lot = book[0]
            closed = min(left, abs(lot[0]))
            trades.append(_trade(f.symbol, lot, closed, f, fee_unit))
            lot[0] += closed * sign
            left -= closed
            if abs(lot[0]) <= 1e-12:
                book.popleft()
        if left > 1e-12:
            book.append([left * sign, f.price, f.ts_ns, fee_unit])
    for symbol, book in lots.items():
        for lot in book:
            mark = marks.get(symbol)
            gross = None if mark is None else (mark - lot[1]) * lot[0]
            trades.append(
                Trade(
                    symbol,
                    "long" if lot[0] > 0 else "short",
                    abs(lot[0]),
                    lot[2],
                    lot[1],
                    None,
                    None,
                    None if gross is None else gross - lot[3] * abs(lot[0]),
                    None,
                    "open",
                )
            )
    return sorted(trades, key=lambda t: (t.entry_ns, t.symbol))


def _trade(symbol: str, lot: list[Any], qty: float, fill: Fill, fee: float) -> Trade:
    """The part ``qty`` of ``lot`` that ``fill`` closes (``fee`` per unit of the fill)."""
    long = lot[0] > 0
    gross = (fill.price - lot[1]) * qty * (1.0 if long else -1.0)
    return Trade(
        symbol=symbol,
        side="long" if long else "short",
        qty=qty,
        entry_ns=lot[2],
        entry_price=lot[1],
        exit_ns=fill.ts_ns,
        exit_price=fill.price,
        pnl=gross - (lot[3] + fee) * qty,
        holding_days=(fill.ts_ns - lot[2]) / NS_PER_DAY,
        exit_reason=fill.reason,
    )


def _num(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def read_trades_csv(path: Path) -> list[Trade] | None:
    """``trades.csv`` as the metrics write it, or None when there is none (or no entry
    column to place a trade by)."""
    if not path.exists():
        return None
    trades = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            entry = to_ns(row.get("entry_time"))
            if entry is None:
                continue
            side = (row.get("side") or "").lower()
            trades.append(
                Trade(
                    symbol=row.get("symbol") or "?",
                    side="short" if side in ("short", "sell") else "long",
                    qty=_num(row.get("qty")) or 0.0,
                    entry_ns=entry,
                    entry_price=_num(row.get("entry_price")) or 0.0,
                    exit_ns=to_ns(row.get("exit_time")),
                    exit_price=_num(row.get("exit_price")),
                    pnl=_num(row.get("pnl")),
                    holding_days=_num(row.get("holding_days")),
                    exit_reason=row.get("exit_reason") or "",
                )
            )
    return trades


def _manifest(out_dir: Path) -> dict[str, Any]:
    for path in sorted((out_dir / "manifests").glob("*.json")):
        try:
            return orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError:
            continue
    return {}


def read_replay_dir(out_dir: Path) -> ReplayFiles:
    prices = read_prices(out_dir / "decisions.jsonl")
    fills = read_fills(out_dir / "state" / "journal.jsonl")
    from_csv = read_trades_csv(out_dir / "trades.csv")
    if from_csv is not None:
        trades, source = from_csv, "trades.csv"
    else:
        marks = {s: p.close[-1] for s, p in prices.items() if p.close}
        trades, source = round_trips(fills, marks), "journal fills"
    manifest = _manifest(out_dir)
    return ReplayFiles(
        prices=prices,
        fills=fills,
        trades=trades,
        trades_source=source,
        profile=manifest.get("trading_profile"),
        config=manifest.get("config"),
    )
