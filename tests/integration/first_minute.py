"""What a paper run did, measured from its decision records and its journal: the numbers the
README's "What the first minute looks like" states and tests/integration/test_first_run.py
checks. Also a script:
``python -m tests.integration.first_minute STATE_DIR RUNTIME_DIR [FIRST_BATCHES [SKIP]]``."""

from __future__ import annotations

import statistics
import sys
from collections import Counter
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson


def paced_env(speed: float) -> dict[str, str]:
    """The shipped config ``speed`` times faster: the synthetic market's pace, and with it
    every setting measured in seconds that a first minute can reach (cooldowns, message
    rates per minute, the windows they count in), so each counts the same bars as at one
    bar a second. What a bar stands for (market.bar_represents_s), and so every volatility,
    size and limit in USD, stays as shipped."""
    k = 1.0 / speed

    def scaled(value: float) -> str:
        return repr(value * k)

    def rate(per_min: int) -> str:
        return str(round(per_min * speed))

    env = {
        "QUANTBOT__MARKET__BAR_INTERVAL_S": scaled(1.0),
        "QUANTBOT__RUN__STATUS_INTERVAL_S": scaled(5.0),
        "QUANTBOT__PRETRADE__MAX_ORDERS_PER_MIN": rate(60),
        "QUANTBOT__PRETRADE__MAX_ORDERS_PER_SYMBOL_PER_MIN": rate(10),
        "QUANTBOT__PRETRADE__MAX_CANCELS_PER_MIN": rate(60),
        "QUANTBOT__PRETRADE__EXECUTIONS_WINDOW_S": scaled(600.0),
        "QUANTBOT__PRETRADE__COLLAR_WINDOW_S": scaled(300.0),
        "QUANTBOT__PRETRADE__COLLAR_BLOCK_WINDOW_S": scaled(600.0),
        "QUANTBOT__PRETRADE__DUPLICATE_WINDOW_S": scaled(3600.0),
    }
    for profile, cooldown in (("CONSERVATIVE", 30.0), ("BALANCED", 15.0), ("AGGRESSIVE", 5.0)):
        env[f"QUANTBOT__POLICY__{profile}__SYMBOL_COOLDOWN_S"] = scaled(cooldown)
    return env


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _ns(iso: str) -> int:
    # "2026-12-07T19:43:31.002371Z" -> ns since the epoch (microsecond precision is enough).
    stamp = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return int(stamp.timestamp() * 1_000_000) * 1000


def measure(
    state_dir: Path,
    runtime_dir: Path,
    *,
    first: int | None = None,
    skip: int = 0,
    equity: float = 100_000.0,
) -> dict[str, Any]:
    """The run's numbers over its batches (bar times) ``skip`` to ``first`` (None: all)."""
    journal = _jsonl(state_dir / "journal.jsonl")
    records = [r for r in _jsonl(runtime_dir / "decisions.jsonl") if "decision_id" in r]
    batches = sorted({r["bar_ts"] for r in records})[:first]
    kept = set(batches)
    records = [r for r in records if r["bar_ts"] in kept]
    end_ns = max((_ns(r["ts"]) for r in records), default=0)
    journal = [e for e in journal if e["ts_ns"] <= end_ns]
    # Orders the decision step placed (entries and rebalances), not the exits' legs.
    intents = [
        e for e in journal if e["type"] == "INTENT" and not e["decision_id"].startswith("exit:")
    ]
    values = [float(Decimal(e["qty"]) * Decimal(e["arrival_price"])) for e in intents]
    fills = sorted((e for e in journal if e["type"] == "FILL"), key=lambda e: e["ts_ns"])
    ordered = [r for r in records if r.get("intent")]
    first_order_bar = batches.index(ordered[0]["bar_ts"]) + 1 if ordered else None

    # Gross exposure at each decision: the fills booked before it, at its bar's close.
    position: dict[str, Decimal] = {}
    last_close: dict[str, float] = {}
    shares: list[float] = []
    symbol_peak = 0.0
    i = 0
    by_batch: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_batch.setdefault(r["bar_ts"], []).append(r)
    for bar_ts in batches:
        group = by_batch[bar_ts]
        when = max(_ns(r["ts"]) for r in group)
        while i < len(fills) and fills[i]["ts_ns"] <= when:
            fill = fills[i]
            sign = 1 if fill["side"] == "BUY" else -1
            position[fill["symbol"]] = position.get(fill["symbol"], Decimal(0)) + sign * Decimal(
                fill["qty"]
            )
            i += 1
        for r in group:
            last_close[r["symbol"]] = r["bar"]["c"]
        held = {s: abs(float(q)) * last_close.get(s, 0.0) for s, q in position.items()}
        shares.append(sum(held.values()) / equity)
        symbol_peak = max([symbol_peak, *(v / equity for v in held.values())])
    shares = shares[skip:]

    vol_scales = [
        r["limits"]["detail"]["vol_scale"]
        for r in records
        if isinstance(r.get("limits"), dict) and "vol_scale" in r["limits"].get("detail", {})
    ]
    realised = [
        r["limits"]["detail"]["realised_vol"]
        for r in records
        if isinstance(r.get("limits"), dict)
        and r["limits"].get("detail", {}).get("realised_vol") is not None
    ]
    ai_factors = [
        r["sizer"]["ai"]["vol_factor"]
        for r in records
        if isinstance(r.get("sizer"), dict) and isinstance(r["sizer"].get("ai"), dict)
    ]
    reasons = Counter(r["reason"]["code"] for r in records if isinstance(r.get("reason"), dict))
    clamps = Counter(c["code"] for r in records for c in r.get("clamps") or [])
    regimes = Counter(
        r["policy"]["reason"]["regime"]
        for r in records
        if isinstance(r.get("policy"), dict)
        and isinstance(r["policy"].get("reason"), dict)
        and "regime" in r["policy"]["reason"]
    )
    return {
        "batches": len(batches),
        "orders": len(intents),
        "legs": sum(1 for e in journal if e["type"] == "INTENT") - len(intents),
        "order_values_usd": [round(v, 2) for v in values],
        "fills": len(fills),
        "first_order_bar": first_order_bar,
        "median_order_usd": statistics.median(values) if values else 0.0,
        "max_order_usd": max(values, default=0.0),
        "mean_gross_share": statistics.fmean(shares) if shares else 0.0,
        "max_gross_share": max(shares, default=0.0),
        "max_symbol_share": symbol_peak,
        "vol_scale": _spread(vol_scales),
        "realised_vol": _spread(realised),
        "ai_vol_factor": _spread(ai_factors),
        "regimes": dict(regimes),
        "reasons": dict(reasons.most_common()),
        "clamps": dict(clamps.most_common()),
    }


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "min": round(min(values), 4),
        "median": round(statistics.median(values), 4),
        "max": round(max(values), 4),
    }


if __name__ == "__main__":
    first = int(sys.argv[3]) if len(sys.argv) > 3 else None
    skip = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    result = measure(Path(sys.argv[1]), Path(sys.argv[2]), first=first, skip=skip)
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
