"""Live-vs-replay diff: `quantbot replay --against RUN`.

A paper or live run's bars (rebuilt from its decision records) go through the same pipeline
again, on the run's own config (its manifest's), and the two sets of decision records are
compared per (symbol, bar):

- a decision diverges when any stage of its record differs once what legitimately differs
  between a run and its replay is set aside (``IGNORED``: the run's id, the wall-clock write
  time, the config's hash, which covers the run's directories and market source, and the
  venue's order numbers); the stage counted is the first key of the record, in the record's
  own order (sleeves' targets, net, sizer, limits, policy, governor, intent, reason ...), whose
  content differs;
- orders decided in one and not the other (by client order id, derived from the decision,
  so the same decision has the same id in both);
- fills: the run's journal FILL prices against the replay's fills of the same client order
  ids, as signed slippage in bps (positive: the run paid more than the fill model said),
  with its median and 90th percentile: what calibrates the fill model.

Decisions diverging is exit 1; fills are expected to differ and are only reported.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from statistics import median
from typing import Any

import attrs
import orjson

from quantbot.config.schema import LoadedConfig
from quantbot.fsutil import write_private
from quantbot.portfolio.annualise import run_periods_per_year
from quantbot.research.run_records import RunRecords, bar_interval_s, write_bars

# Keys that legitimately differ between a run and its replay, with the reason. Everything
# else in a decision record is compared.
IGNORED: Mapping[str, str] = {
    "ts": "the wall-clock time the record was written",
    "run_id": "the replay is a run of its own",
    "config_hash": "covers the directories written to and the market source (csv in replay)",
    # A quarantine or drawdown trip the replay does not share changes decisions, compared.
    "snapshot": "names the config too, whose market source is csv in replay",
}
# Inside the "order" stage: the venue's order number counts every order the venue saw; the
# quote at arrival (TCA) is the market the order met, read when it was sent, not a decision.
IGNORED_ORDER_KEYS = ("venue_order_id", "arrival_quote")

Record = dict[str, Any]
Key = tuple[str, str]  # (symbol, bar_ts)


# The inbox of outside intents ("external" sleeve) is not historical: a replay has none. An
# idle external sleeve in the run (no intent received) is set aside; one that held an
# intent is a divergence the replay cannot reproduce, and is reported as one.
_IDLE_EXTERNAL = {"target": 0.0, "confidence": 0.0, "ready": False}


def normalised(record: Record) -> Record:
    out = {k: v for k, v in record.items() if k not in IGNORED}
    sleeves = out.get("sleeves")
    if isinstance(sleeves, dict) and sleeves.get("external") == _IDLE_EXTERNAL:
        out["sleeves"] = {k: v for k, v in sleeves.items() if k != "external"}
        net = out.get("net")
        contributions = net.get("contributions") if isinstance(net, dict) else None
        if isinstance(contributions, dict) and contributions.get("external") == 0.0:
            out["net"] = {**net, "contributions": {
                k: v for k, v in contributions.items() if k != "external"}}  # fmt: skip
    order = out.get("order")
    if isinstance(order, dict):
        out["order"] = {k: v for k, v in order.items() if k not in IGNORED_ORDER_KEYS}
    return out


# A record's keys in the order the pipeline fills them (decision/step.py): the stage of a
# divergence is the earliest one that differs, so a changed sleeve shows as "sleeves", not
# as the intent it changed further down. Keys not listed follow in the record's order.
STAGES = (
    "execution_mode", "profile", "decision_id", "bar_ts", "symbol", "bar", "breakers_open",
    "sleeves", "net", "sizer", "limits", "policy", "governor", "daily_risk", "position",
    "clamps", "intent", "reason", "arrival_price", "order",
)  # fmt: skip

# Reason codes that depend on the wall clock of the run, which a replay (its clock at each
# bar's close) cannot reproduce: how old the data was when it arrived, and message rates
# per wall-clock minute. A decision that differs with one of these on either side is listed
# under "wall_clock" and does not count as a divergence.
WALL_CLOCK_CODES: Mapping[str, str] = {
    "DATA_STALE": "the bar's age on arrival is wall-clock latency",
    "STALE_DATA_BLOCK": "the data's age at the gate is wall-clock latency",
    "QUOTE_STALE_BLOCK": "the quote's age at the gate is wall-clock latency",
    "RATE_THROTTLE_BLOCK": "message rates are counted per wall-clock window",
    "EXECUTION_THROTTLE_DISABLE": "execution rates are counted per wall-clock window",
}


def first_stage(run: Record, replay: Record) -> str:
    """The earliest stage (``STAGES``, then the other keys) whose content differs."""
    rest = [k for k in [*run, *replay] if k not in STAGES]
    for key in [*STAGES, *dict.fromkeys(rest)]:
        if run.get(key) != replay.get(key):
            return key
    return ""


def reason_codes(record: Record | None) -> set[str]:
    """The record's reason code and its order's (a gate that refused it)."""
    found = set()
    for why in (
        (record or {}).get("reason"),
        ((record or {}).get("order") or {}).get("reason"),
    ):
        if isinstance(why, dict) and "code" in why:
            found.add(str(why["code"]))
        elif isinstance(why, str):
            found.add(why)
    return found


def by_decision(records: Iterable[Record]) -> dict[Key, Record]:
    return {(r["symbol"], r["bar_ts"]): r for r in records if "decision_id" in r}


def compare_decisions(run: list[Record], replay: list[Record]) -> dict[str, Any]:
    """Diverging decisions, counts by stage, the first per symbol with both records."""
    ours, theirs = by_decision(run), by_decision(replay)
    stages: Counter[str] = Counter()
    first: dict[str, dict[str, Any]] = {}
    wall_clock: list[dict[str, Any]] = []
    diverging = 0
    for key in sorted(set(ours) | set(theirs), key=lambda k: (k[1], k[0])):
        a = normalised(ours[key]) if key in ours else None
        b = normalised(theirs[key]) if key in theirs else None
        if a is None or b is None:
            stage = "missing_in_replay" if b is None else "missing_in_run"
        else:
            stage = first_stage(a, b)
            if not stage:
                continue
        symbol, bar_ts = key
        timed = sorted((reason_codes(a) | reason_codes(b)) & set(WALL_CLOCK_CODES))
        if timed:
            wall_clock.append({"symbol": symbol, "bar_ts": bar_ts, "stage": stage,
                               "codes": timed})  # fmt: skip
            continue
        diverging += 1
        stages[stage] += 1
        first.setdefault(
            symbol, {"symbol": symbol, "bar_ts": bar_ts, "stage": stage, "run": a, "replay": b}
        )
    return {
        "compared": len(set(ours) & set(theirs)),
        "run_decisions": len(ours),
        "replay_decisions": len(theirs),
        "diverging": diverging,
        "by_stage": dict(sorted(stages.items())),
        "first_by_symbol": [first[s] for s in sorted(first)],
        "wall_clock": wall_clock,
    }


def _orders(records: Iterable[Record]) -> dict[str, Record]:
    return {
        r["intent"]["client_order_id"]: {
            "client_order_id": r["intent"]["client_order_id"],
            "symbol": r["symbol"],
            "bar_ts": r["bar_ts"],
            "side": r["intent"].get("side"),
            "qty": r["intent"].get("qty"),
            "order_type": r["intent"].get("order_type"),
        }
        for r in records
        if "decision_id" in r and r.get("intent")
    }


def compare_orders(run: list[Record], replay: list[Record]) -> dict[str, Any]:
    ours, theirs = _orders(run), _orders(replay)
    return {
        "run": len(ours),
        "replay": len(theirs),
        "only_in_run": [ours[c] for c in sorted(set(ours) - set(theirs))],
        "only_in_replay": [theirs[c] for c in sorted(set(theirs) - set(ours))],
    }


def _vwap(fills: Iterable[Record]) -> dict[str, tuple[str, Decimal]]:
    """Each client order id's side and volume-weighted fill price."""
    totals: dict[str, list[Any]] = {}
    for f in fills:
        qty, price = Decimal(str(f["qty"])), Decimal(str(f["price"]))
        entry = totals.setdefault(f["client_order_id"], [f["side"], Decimal(0), Decimal(0)])
        entry[1] += qty
        entry[2] += qty * price
    return {cid: (side, value / qty) for cid, (side, qty, value) in totals.items() if qty}


def compare_fills(run_fills: list[Record], replay_fills: list[Record]) -> dict[str, Any]:
    """Signed slippage of the run's fill against the replay's for each order both filled:
    ``(run - replay) / replay`` in bps, sign flipped for sells, so positive is worse for the
    run than the fill model predicted."""
    ours, theirs = _vwap(run_fills), _vwap(replay_fills)
    rows = []
    for cid in sorted(set(ours) & set(theirs)):
        side, run_px = ours[cid]
        _, replay_px = theirs[cid]
        sign = 1 if str(side).upper() == "BUY" else -1
        bps = float(sign * (run_px - replay_px) / replay_px * 10_000)
        rows.append(
            {
                "client_order_id": cid,
                "side": side,
                "run_price": str(run_px),
                "replay_price": str(replay_px),
                "slippage_bps": round(bps, 4) + 0.0,  # never -0.0
            }
        )
    values = sorted(r["slippage_bps"] for r in rows)
    return {
        "matched": len(rows),
        "only_run_filled": sorted(set(ours) - set(theirs)),
        "only_replay_filled": sorted(set(theirs) - set(ours)),
        "slippage_bps": {
            "median": round(median(values), 4) if values else None,
            "p90": round(_percentile(values, 0.9), 4) if values else None,
            "mean": round(sum(values) / len(values), 4) if values else None,
            "min": values[0] if values else None,
            "max": values[-1] if values else None,
        },
        "fills": rows,
    }


def _percentile(ordered: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def starting_state(run: list[Record], replay: list[Record]) -> dict[str, Any]:
    """What each side held when it began: the first equity its sizer saw and each symbol's
    position at its first decision. A replay starts flat on the configured cash; a run on a
    paper book an earlier run left in ``state/`` does not, and diverges for that reason."""

    def equity(records: list[Record]) -> float | None:
        for r in records:
            value = (r.get("sizer") or {}).get("equity")
            if value is not None:
                return float(value)
        return None

    def positions(records: list[Record]) -> dict[str, str]:
        held: dict[str, str] = {}
        for r in sorted(records, key=lambda r: r.get("bar_ts", "")):
            qty = (r.get("position") or {}).get("qty")
            if qty is not None:
                held.setdefault(r["symbol"], str(qty))
        return {s: q for s, q in held.items() if q not in ("0", "0.0")}

    ours = [r for r in run if "decision_id" in r]
    theirs = [r for r in replay if "decision_id" in r]
    start = {
        "run": {"equity": equity(ours), "positions": positions(ours)},
        "replay": {"equity": equity(theirs), "positions": positions(theirs)},
    }
    start["same"] = start["run"] == start["replay"]
    return start


def build_report(
    run: RunRecords, replay_id: str, replay_records: list[Record], replay_fills: list[Record]
) -> dict[str, Any]:
    decisions = compare_decisions(run.decisions, replay_records)
    return {
        "run_id": run.run_id,
        "manifest": str(run.manifest_path),
        "execution_mode": run.manifest.get("execution_mode"),
        "replay_id": replay_id,
        "ignored": dict(IGNORED)
        | {
            "order.venue_order_id": "the venue's own numbering",
            "order.arrival_quote": "the market the order met (TCA): the run's venue, read "
            "when it was sent; the replay's paper venue",
            "sleeves.external (idle)": "outside intents are not historical: a replay has none",
        },
        "wall_clock_codes": dict(WALL_CLOCK_CODES),
        "decisions": decisions,
        "orders": compare_orders(run.decisions, replay_records),
        "fills": compare_fills(run.fills, replay_fills),
        "start": starting_state(run.decisions, replay_records),
        "diverged": decisions["diverging"] > 0,
    }


async def replay_against(
    loaded: LoadedConfig, run: RunRecords, out_root: Path | None, progress: Any = None
) -> tuple[dict[str, Any], Path]:
    """Replay ``run``'s bars on ``loaded`` and compare; the report is written to
    ``<replay>/against.json``. Returns the report and its path."""
    # Imported here: the daemon loads only when a replay is run.
    from quantbot.research.replay import ReplayRequest, run_replay  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="quantbot-against-") as tmp:
        data = write_bars(run.decisions, Path(tmp), bar_interval_s(run.manifest))
        request = ReplayRequest(data=data, out_root=out_root)
        result = await run_replay(_annualised_as_run(loaded, run), request, progress=progress)
    records = _read_jsonl(result.out_dir / "decisions.jsonl")
    fills = [e for e in _read_jsonl(result.out_dir / "state" / "journal.jsonl")
             if e.get("type") == "FILL"]  # fmt: skip
    report = build_report(run, result.replay_id, records, fills)
    path = result.out_dir / "against.json"
    write_private(path, orjson.dumps(report, option=orjson.OPT_INDENT_2))
    return report, path


def _annualised_as_run(loaded: LoadedConfig, run: RunRecords) -> LoadedConfig:
    """The replay reads the run's bars as files, whose spacing is the run's wall-clock pace;
    a synthetic run annualised its volatility by what a bar stands for in market time, and
    so must its replay (``portfolio.annualise``)."""
    periods = run_periods_per_year(run.manifest.get("config", {}))
    if not periods or loaded.config.limits.periods_per_year:
        return loaded
    limits = attrs.evolve(loaded.config.limits, periods_per_year=periods)
    return attrs.evolve(loaded, config=attrs.evolve(loaded.config, limits=limits))


def _read_jsonl(path: Path) -> list[Record]:
    if not path.is_file():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def describe(report: Mapping[str, Any], path: Path) -> str:
    """The human summary printed on stdout: counts, then each symbol's first divergence
    with the run's and the replay's content of the stage side by side (only the parts of it
    that differ; against.json holds both records whole)."""
    d, o, f = report["decisions"], report["orders"], report["fills"]
    counts = f"  decisions: {d['compared']} compared, {d['diverging']} diverging"
    if d["run_decisions"] != d["replay_decisions"]:
        counts += f" (run {d['run_decisions']}, replay {d['replay_decisions']})"
    lines = [
        f"against run {report['run_id']} ({report['execution_mode']}), "
        f"replay {report['replay_id']}",
        counts,
    ]
    if d["wall_clock"]:
        lines.append(
            f"  set aside: {len(d['wall_clock'])} decisions that differ on a wall-clock "
            "reason (data age, message rates): a replay cannot reproduce those"
        )
    if d["by_stage"]:
        stages = ", ".join(f"{k} {v}" for k, v in d["by_stage"].items())
        lines.append(f"  by stage: {stages}")
    for first in d["first_by_symbol"]:
        lines.append(f"  first divergence {first['symbol']} at {first['bar_ts']}: {first['stage']}")
        ours, theirs = _differing(first["run"], first["replay"], first["stage"])
        lines.append(f"    run:    {orjson.dumps(ours).decode()[:300]}")
        lines.append(f"    replay: {orjson.dumps(theirs).decode()[:300]}")
    lines.append(
        f"  orders: run {o['run']}, replay {o['replay']}, only in run "
        f"{len(o['only_in_run'])}, only in replay {len(o['only_in_replay'])}"
    )
    fills = f"  fills: {f['matched']} matched"
    if f["matched"]:
        s = f["slippage_bps"]
        fills += f", slippage vs fill model median {s['median']:+.2f} bps, p90 {s['p90']:+.2f} bps"
    lines.append(fills)
    start = report["start"]
    if not start["same"]:
        lines.append(
            f"  note: the run started with equity {start['run']['equity']} and positions "
            f"{start['run']['positions'] or 'none'}, the replay with {start['replay']['equity']}"
            f" and {start['replay']['positions'] or 'none'} (a paper book left in state/ by "
            "an earlier run?)"
        )
    lines.append(f"  report: {path}")
    lines.append("decisions diverge" if report["diverged"] else "no decision diverges")
    return "\n".join(lines)


def _differing(run: Record | None, replay: Record | None, stage: str) -> tuple[Any, Any]:
    """The stage's content on each side, as the leaves that differ (``a.b.c``: value), so
    what changed is visible in a deep stage; a bar decided on one side only: its id."""
    if run is None or replay is None:
        return run and run.get("decision_id"), replay and replay.get("decision_id")
    a, b = _leaves(run.get(stage), stage), _leaves(replay.get(stage), stage)
    keys = [k for k in dict.fromkeys([*a, *b]) if a.get(k, _ABSENT) != b.get(k, _ABSENT)]
    return {k: a.get(k) for k in keys}, {k: b.get(k) for k in keys}


_ABSENT = object()


def _leaves(value: Any, path: str) -> dict[str, Any]:
    if isinstance(value, dict) and value:
        found: dict[str, Any] = {}
        for key, inner in value.items():
            found |= _leaves(inner, f"{path}.{key}")
        return found
    return {path: value}
