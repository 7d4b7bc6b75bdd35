"""What a replay did, in numbers: trades per day, flip rate, the share of decisions each gate
blocked, implementation shortfall, PnL and drawdown, per-sleeve attribution, the standard
performance metrics (``research.metrics``: return, CAGR, volatility, Sharpe, Sortino, Calmar,
drawdown, exposure, turnover, round trips) beside buy-and-hold of each symbol and of the
equal-weight basket over the same span, and ``trades.csv`` (``research.trades``).

Everything is computed from what the replay wrote (each decision record as it is written, the
journal) plus the equity and positions noted after each batch, so the summary explains the
records rather than a second model of the run. Memory stays flat in the length of the run:
the tally keeps counts, one arrival price per order sent, a few numbers per batch (time,
equity, gross exposure, the basket's value) and per symbol, never the records themselves, and
the journal is read once, line by line.

Attribution by sleeve is ``analytics.attribution``'s, over the replay's final TCA records:
a position belongs to the sleeve whose order opened it. The TCA report (``quantbot report
tca --runtime <replay> --date all``) uses the same definition, so the two agree.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from quantbot.analytics.attribution import METHOD, OrderRow, sleeve_pnl
from quantbot.clock import NS_PER_S
from quantbot.domain.values import Bar
from quantbot.oms.ledger import Ledger
from quantbot.research import metrics
from quantbot.research.trades import RoundTrips, write_trades_csv

NS_PER_DAY = 86_400 * NS_PER_S
_INF = math.inf
MAX_POINTS = 2000  # a curve of more points than pixels only makes the report bigger


class ReplayTally:
    """The summary's inputs, gathered while the replay runs.

    ``note_record`` sees every line written to the decision records (the replay hands it to
    the records writer); ``note_batch`` runs after each batch, once its records are written.
    """

    def __init__(self) -> None:
        self.ts = array("q")  # each batch's bar time
        self.equity = array("d")  # the venue's equity after each batch
        self.decisions = 0
        self.reasons: Counter[str] = Counter()
        self.arrival: dict[str, tuple[float, str]] = {}  # client id -> (price, side)
        self.flips = 0
        self.closes: dict[str, float] = {}  # each symbol's last close (the marks)
        self._side: dict[str, float] = {}  # last non-zero position per symbol (flips)
        self._seq: int | None = None  # the ledger's event count at the last look
        self.gross = array("d")  # sum of |position| x last close after each batch
        self.basket = array("d")  # sum over symbols seen of close / first close
        # Symbols seen so far, after each batch, kept as the batches where it grew (batch
        # index -> count): it changes a handful of times in a run (``seen()`` expands it).
        self._grew: dict[int, int] = {}
        # Each symbol's buy-and-hold curve from its first close (its ``first`` and ``last``
        # closes are the basket's terms).
        self.buy_hold: dict[str, metrics.RunningCurve] = {}
        self._ratio_sum = 0.0
        self._priced = 0  # len(buy_hold): symbols with a first close
        # Non-zero positions at the last look, as (symbol, |qty|): read again only when the
        # ledger moved, so a bar's gross value is a product per position held.
        self._held: tuple[tuple[str, float], ...] = ()

    def note_record(self, record: dict[str, Any]) -> None:
        if not record.get("decision_id"):
            return  # an event line (reconciliation, breaker, halt), not a decision
        self.decisions += 1
        # reason_code(record), inline: every decision comes here
        why = record.get("reason")
        code = why.get("code") if why else None
        self.reasons[str(code) if code else _order_code(record)] += 1
        intent = record.get("intent")
        if intent and record.get("arrival_price"):
            self.arrival[intent["client_order_id"]] = (
                float(record["arrival_price"]),
                intent["side"],
            )

    def note_batch(self, batch: list[Bar], equity: float, ledger: Ledger | None) -> None:
        """After each batch: its time, the account's equity, each symbol's last close, the
        buy-and-hold benchmark, the flips the ledger's positions show (they move only with
        journal events) and the gross value of the positions held.

        It runs on every bar: attribute updates and array appends, no dict or list built
        unless the ledger moved. The benchmark of each bar: buy-and-hold of its symbol from
        its first close, and the basket's sum (a close that is no price, which the data
        contract drops, is left out)."""
        closes = self.closes
        buy_hold = self.buy_hold
        for bar in batch:
            symbol, close = bar.symbol, bar.close
            closes[symbol] = close
            if not 0.0 < close < _INF:  # NaN, infinite, zero or negative: no price
                continue
            if symbol in buy_hold:  # ``in`` and a subscript: no call
                curve = buy_hold[symbol]
                self._ratio_sum -= curve.last / curve.first
                self._ratio_sum += close / curve.first
            else:
                curve = buy_hold[symbol] = metrics.RunningCurve()
                self._ratio_sum += 1.0  # close / first, the first being this close
                self._priced += 1
                self._grew[len(self.ts)] = self._priced
            # curve.add(bar.ts_ns, close), inline (metrics.RunningCurve): every bar
            if curve.first != curve.first:  # NaN: the first point
                curve.first, curve.first_ts, curve.peak = close, bar.ts_ns, close
            curve.last, curve.last_ts = close, bar.ts_ns
            if close > curve.peak:
                curve.peak = close
            elif curve.peak > 0:
                drawdown = (close - curve.peak) / curve.peak * 100.0
                if drawdown < curve.worst:  # noqa: PLR1730
                    curve.worst = drawdown
        self.ts.append(batch[0].ts_ns)
        self.equity.append(equity)
        self.basket.append(self._ratio_sum)
        if ledger is not None and ledger.last_event_seq != self._seq:
            self._seq = ledger.last_event_seq
            self._held = self._positions(ledger)
        if self._held:
            gross = 0.0  # summed in the order ``sum()`` adds (the same float)
            for symbol, size in self._held:
                gross += size * (closes[symbol] if symbol in closes else 0.0)  # noqa: SIM401
            self.gross.append(gross)
        else:
            self.gross.append(0.0)

    def _positions(self, ledger: Ledger) -> tuple[tuple[str, float], ...]:
        """The ledger's non-zero positions as (symbol, |qty|), counting the flips."""
        held = []
        for symbol, position in ledger.positions.items():
            qty = float(position.qty)
            if self._side.get(symbol, 0.0) * qty < 0:
                self.flips += 1
            if qty != 0.0:
                self._side[symbol] = qty
                held.append((symbol, abs(qty)))
        return tuple(held)

    def seen(self) -> Iterator[int]:
        """Symbols seen so far (with a first close), after each batch."""
        count, grew = 0, self._grew
        for i in range(len(self.ts)):
            count = grew.get(i, count)
            yield count

    def days(self) -> int:
        return len({t // NS_PER_DAY for t in self.ts})


_NOT_A_BLOCK = frozenset({"EXEC_SHADOW_NOT_SENT"})  # shadow mode decided it: an order


def reason_code(record: dict[str, Any]) -> str:
    """The reason a decision made no order, or ``ORDER``: the step's reason, else the one the
    order side gave for not sending it (a pre-trade gate's ``PRICE_COLLAR_BLOCK`` ...)."""
    code = (record.get("reason") or {}).get("code")
    if code:
        return str(code)
    return _order_code(record)


def _order_code(record: dict[str, Any]) -> str:
    """``reason_code`` of a record whose step gave no reason."""
    order = record.get("order") or {}
    if order.get("outcome") == "NOT_SENT":
        code = (order.get("reason") or {}).get("code")
        if code and code not in _NOT_A_BLOCK:
            return str(code)
    return "ORDER"


def _day(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / NS_PER_S, tz=UTC).strftime("%Y-%m-%d")


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The lines of ``path`` one at a time (nothing when it does not exist)."""
    if not path.exists():
        return
    with path.open("rb") as f:
        for line in f:
            if line.strip():
                yield orjson.loads(line)


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p10": None, "p50": None, "p90": None, "mean": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {
        "n": len(ordered),
        "p10": pick(0.10),
        "p50": pick(0.50),
        "p90": pick(0.90),
        "mean": round(sum(ordered) / len(ordered), 3),
    }


def drawdown(equity: Sequence[float], step: int = 1) -> tuple[list[float], float]:
    """The drawdown (% below the running peak) at every ``step``-th point, and the worst."""
    peak, curve, worst = -math.inf, [], 0.0
    for i, value in enumerate(equity):
        peak = max(peak, value)
        dd = 0.0 if peak <= 0 else (value - peak) / peak * 100.0
        if i % step == 0:
            curve.append(dd)
        worst = min(worst, dd)
    return curve, worst


class JournalTotals:
    """What the summary reads from the journal, in one streamed pass: orders sent (and on
    which bar days), fills, and each filled order's implementation shortfall in bps,
    (fill VWAP - arrival price) / arrival, positive = cost."""

    def __init__(self, journal: Path, arrival: dict[str, tuple[float, str]]) -> None:
        self.sent = 0
        self.fills = 0
        self.per_day: Counter[str] = Counter()
        self.trades = RoundTrips()
        qty: dict[str, float] = defaultdict(float)
        value: dict[str, float] = defaultdict(float)
        for e in _jsonl(journal):
            self.trades.on_event(e)
            kind = e.get("type")
            if kind == "INTENT":
                self.sent += 1
                if e.get("bar_ts_ns"):
                    self.per_day[_day(int(e["bar_ts_ns"]))] += 1
            elif kind == "FILL":
                self.fills += 1
                cid = e.get("client_order_id")
                if cid in arrival:
                    q = float(e["qty"])
                    qty[cid] += q
                    value[cid] += q * float(e["price"])
        self.shortfall_bps: list[float] = []
        for cid, q in qty.items():
            price, side = arrival[cid]
            sign = 1.0 if side == "BUY" else -1.0
            self.shortfall_bps.append((value[cid] / q - price) / price * 1e4 * sign)


def _attributed(tca: Path, marks: dict[str, float], total: float) -> dict[str, Any]:
    """The sleeves' PnL (``analytics.attribution``) over the replay's final TCA records."""
    latest: dict[str, OrderRow] = {}
    for row in _jsonl(tca):  # a later line for an order supersedes an earlier one
        if "client_order_id" in row and "decision_ts" in row:
            latest[row["client_order_id"]] = OrderRow.of(row)
    prices = {s: Decimal(str(p)) for s, p in marks.items()}
    attributed = sleeve_pnl(latest.values(), prices)
    net = {s: round(float(p["net"]), 2) for s, p in attributed.items()}
    return {
        "method": METHOD,
        "pnl": net,
        "gross": {s: round(float(p["gross"]), 2) for s, p in attributed.items()},
        # The equity change the orders do not explain (rounding; a venue's cash moves).
        "unexplained": round(total - sum(net.values()), 2),
    }


def summarize(
    rid: str, out_dir: Path, tally: ReplayTally, bars: int, *, report: bool = True
) -> dict[str, Any]:
    """summary.json's content; with ``report``, trades.csv and report.html beside it too."""
    journal = JournalTotals(out_dir / "state" / "journal.jsonl", tally.arrival)
    sent = journal.sent
    step = max(1, len(tally.ts) // MAX_POINTS)
    curve, worst = drawdown(tally.equity, step)
    start, end = (tally.equity[0], tally.equity[-1]) if tally.equity else (0.0, 0.0)
    from quantbot.research.html_report import write_report  # noqa: PLC0415 -- after the run

    decisions = tally.decisions
    summary: dict[str, Any] = {
        "replay_id": rid,
        "bars": bars,
        "batches": len(tally.ts),
        "first_bar_ns": tally.ts[0] if tally.ts else 0,
        "last_bar_ns": tally.ts[-1] if tally.ts else 0,
        "orders": {
            "sent": sent,
            "fills": journal.fills,
            "trades_per_day": round(sent / max(1, tally.days()), 3),
            "busiest_days": journal.per_day.most_common(5),
            "flips": tally.flips,
            "flip_rate": round(tally.flips / sent, 4) if sent else 0.0,
        },
        "decisions_by_reason": {
            code: {"count": n, "share": round(n / decisions, 4)}
            for code, n in tally.reasons.most_common()
        },
        "implementation_shortfall_bps": _percentiles(journal.shortfall_bps),
        "pnl": {
            "start_equity": round(start, 2),
            "end_equity": round(end, 2),
            "total": round(end - start, 2),
            "max_drawdown_pct": round(worst, 3),
        },
        "attribution_by_sleeve": _attributed(out_dir / "tca.jsonl", tally.closes, end - start),
        **performance(tally, journal.trades),
    }
    if not report:
        return summary
    # Before the report: it lists and marks the round trips from this file.
    write_trades_csv(out_dir / "trades.csv", journal.trades)
    write_report(
        out_dir / "report.html",
        summary,
        tally.ts[::step].tolist(),
        tally.equity[::step].tolist(),
        curve,
    )
    return summary


def performance(tally: ReplayTally, trades: RoundTrips) -> dict[str, Any]:
    """``metrics``, ``benchmark`` and the daily ``equity_curve`` / ``benchmark_curve``
    (the equal-weight basket scaled to the starting equity), as summary.json holds them."""
    ts, equity = tally.ts, tally.equity
    closed = trades.closed
    perf = {
        **metrics.equity_metrics(ts, equity),
        **metrics.exposure_metrics(tally.gross, equity, trades.traded_notional),
        **metrics.trade_metrics([float(t.pnl) for t in closed], [t.holding_days for t in closed]),
    }
    symbols = len(tally.buy_hold)
    # Equal weight, bought once: each symbol's 1/N from its first close, cash until then.
    # One value a bar: a compact array (8 bytes each), as the tally keeps its own series.
    basket = array(
        "d", ((s + symbols - n) / symbols for s, n in zip(tally.basket, tally.seen(), strict=True))
    )
    basket_metrics = metrics.equity_metrics(ts, basket)
    start = equity[0] if equity else 0.0
    return {
        "metrics": perf,
        "benchmark": {
            "per_symbol": {s: c.summary() for s, c in sorted(tally.buy_hold.items())},
            "equal_weight": {
                k: basket_metrics[k] for k in ("total_return_pct", "cagr_pct", "max_drawdown_pct")
            },
        },
        "equity_curve": [[_iso(d), round(v, 2)] for d, v in metrics.daily(ts, equity)],
        "benchmark_curve": [[_iso(d), round(v * start, 2)] for d, v in metrics.daily(ts, basket)],
    }


def _iso(day: int) -> str:
    return _day(day * NS_PER_DAY)
