"""What a replay did, in numbers: trades per day, flip rate, the share of decisions each gate
blocked, implementation shortfall, PnL and drawdown, and per-sleeve attribution.

Everything is computed from what the replay wrote (decision records, journal) plus the equity
and positions noted after each batch, so the summary explains the records rather than a
second model of the run.

Attribution: each bar's mark-to-market PnL of a symbol (position held into the bar x price
change) is split across sleeves by their shares of the net target at the symbol's last
decision (``net.contributions``), signed by whether the sleeve pushed with or against the
position. It is an approximation (the netted order has no single owner), and it is labelled so.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from quantbot.clock import NS_PER_S
from quantbot.domain.values import Bar

if TYPE_CHECKING:
    from quantbot.app import Daemon


class ReplayTape:
    """Equity, positions and closes after each batch (cheap: a few floats per batch)."""

    def __init__(self) -> None:
        self.ts: list[int] = []
        self.equity: list[float] = []
        self.positions: list[dict[str, float]] = []
        self.closes: list[dict[str, float]] = []

    def note(self, batch: list[Bar], daemon: Daemon) -> None:
        ledger = daemon.oms.ledger if daemon.oms is not None else None
        self.ts.append(batch[0].ts_ns)
        self.equity.append(float(daemon.venue.equity()))
        held = {s: float(p.qty) for s, p in ledger.positions.items()} if ledger else {}
        self.positions.append(held)
        self.closes.append({b.symbol: b.close for b in batch})


def _day(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / NS_PER_S, tz=UTC).strftime("%Y-%m-%d")


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


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


def _drawdown(equity: list[float]) -> tuple[list[float], float]:
    peak, curve, worst = -math.inf, [], 0.0
    for value in equity:
        peak = max(peak, value)
        dd = 0.0 if peak <= 0 else (value - peak) / peak * 100.0
        curve.append(dd)
        worst = min(worst, dd)
    return curve, worst


def shortfall_bps(decisions: list[dict[str, Any]], journal: list[dict[str, Any]]) -> list[float]:
    """Per filled order: (fill VWAP - arrival price) / arrival, in bps, positive = cost."""
    arrival = {
        r["intent"]["client_order_id"]: (float(r["arrival_price"]), r["intent"]["side"])
        for r in decisions
        if r.get("intent") and r.get("arrival_price")
    }
    qty: dict[str, float] = defaultdict(float)
    value: dict[str, float] = defaultdict(float)
    for e in journal:
        if e.get("type") == "FILL" and e.get("client_order_id") in arrival:
            q = float(e["qty"])
            qty[e["client_order_id"]] += q
            value[e["client_order_id"]] += q * float(e["price"])
    out = []
    for cid, q in qty.items():
        price, side = arrival[cid]
        vwap = value[cid] / q
        sign = 1.0 if side == "BUY" else -1.0
        out.append((vwap - price) / price * 1e4 * sign)
    return out


def attribution(tape: ReplayTape, decisions: list[dict[str, Any]]) -> dict[str, float]:
    shares: dict[tuple[str, int], dict[str, float]] = {}
    for r in decisions:
        net = r.get("net")
        if net and r.get("decision_id"):
            shares[(r["symbol"], _bar_ts(r))] = net.get("contributions") or {}
    pnl: dict[str, float] = defaultdict(float)
    last_share: dict[str, dict[str, float]] = {}
    for i in range(1, len(tape.ts)):
        for symbol, close in tape.closes[i].items():
            prev = tape.closes[i - 1].get(symbol)
            held = tape.positions[i - 1].get(symbol, 0.0)
            share = shares.get((symbol, tape.ts[i - 1]))
            if share is not None:
                last_share[symbol] = share
            if prev is None or held == 0.0:
                continue
            move = held * (close - prev)
            weights = last_share.get(symbol) or {}
            total = sum(abs(v) for v in weights.values())
            if total == 0.0:
                pnl["unattributed"] += move
                continue
            for sleeve, contribution in weights.items():
                pnl[sleeve] += move * abs(contribution) / total
    return {k: round(v, 2) for k, v in sorted(pnl.items())}


def _attributed(tape: ReplayTape, decisions: list[dict[str, Any]], total: float) -> dict[str, Any]:
    by_sleeve = attribution(tape, decisions)
    # What holding positions from close to close does not explain: fills at prices other than
    # the close (slippage, the gap to the next open), fees. Shown, not hidden.
    by_sleeve["execution_and_costs"] = round(total - sum(by_sleeve.values()), 2)
    return {
        "method": "close-to-close PnL of held positions split by net-target shares "
        "(approximation); execution_and_costs is the rest of the equity change",
        "pnl": by_sleeve,
    }


def _bar_ts(record: dict[str, Any]) -> int:
    return int(record["decision_id"].rsplit("@", 1)[1])


def _flips(tape: ReplayTape) -> int:
    flips = 0
    last: dict[str, float] = {}
    for held in tape.positions:
        for symbol, qty in held.items():
            before = last.get(symbol, 0.0)
            if before * qty < 0:
                flips += 1
            if qty != 0.0:
                last[symbol] = qty
    return flips


def summarize(rid: str, out_dir: Path, tape: ReplayTape, daemon: Daemon) -> dict[str, Any]:
    records = _jsonl(out_dir / "decisions.jsonl")
    decisions = [r for r in records if r.get("decision_id")]
    journal = _jsonl(out_dir / "state" / "journal.jsonl")
    sent = [e for e in journal if e.get("type") == "INTENT"]
    per_day = Counter(_day(int(e["bar_ts_ns"])) for e in sent if e.get("bar_ts_ns"))
    reasons = Counter((r.get("reason") or {}).get("code") or "ORDER" for r in decisions)
    curve, worst = _drawdown(tape.equity)
    start, end = (tape.equity[0], tape.equity[-1]) if tape.equity else (0.0, 0.0)
    from quantbot.research.html_report import write_report  # noqa: PLC0415 -- after the run

    summary: dict[str, Any] = {
        "replay_id": rid,
        "bars": daemon.pipeline.counters.bars,
        "batches": len(tape.ts),
        "first_bar_ns": tape.ts[0] if tape.ts else 0,
        "last_bar_ns": tape.ts[-1] if tape.ts else 0,
        "orders": {
            "sent": len(sent),
            "fills": sum(1 for e in journal if e.get("type") == "FILL"),
            "trades_per_day": round(len(sent) / max(1, len({_day(t) for t in tape.ts})), 3),
            "busiest_days": per_day.most_common(5),
            "flips": _flips(tape),
            "flip_rate": round(_flips(tape) / len(sent), 4) if sent else 0.0,
        },
        "decisions_by_reason": {
            code: {"count": n, "share": round(n / len(decisions), 4)}
            for code, n in reasons.most_common()
        },
        "implementation_shortfall_bps": _percentiles(shortfall_bps(decisions, journal)),
        "pnl": {
            "start_equity": round(start, 2),
            "end_equity": round(end, 2),
            "total": round(end - start, 2),
            "max_drawdown_pct": round(worst, 3),
        },
        "attribution_by_sleeve": _attributed(tape, decisions, end - start),
    }
    write_report(out_dir / "report.html", summary, tape, curve)
    return summary
