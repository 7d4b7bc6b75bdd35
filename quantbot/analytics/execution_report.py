"""The execution report: a day of TCA records (and decision records) aggregated.

Orders belong to the UTC day of their decision. For each order the last TCA line counts
(later lines supersede earlier ones, across the day's rotation). Orders are grouped by
symbol, sleeve, profile, order type and venue; each group has status counts, percentiles of
IS and spread paid, fees and PnL before and after costs. Blocks per gate come from the
decision records (decisions the gates stopped, and orders the OMS did not send).

PnL is the day's trading in the orders of that day, marked at the last bar close of the day
(from the decision records; the last arrival price when there are none), positions carried
in from earlier days left out:

- after costs (``net_pnl``) = side x filled qty x (mark - fill VWAP) - fees;
- before costs (``gross_pnl``) = side x filled qty x (mark - arrival), as if every fill had
  been at the arrival price with no fees. So gross - net = IS cost + fees, exactly;
- ``missed_pnl`` (the proxy for what cancels and rejects cost) = side x unfilled qty x
  (mark - arrival) over canceled and rejected orders: positive means the trades not done
  would have made money by the end of the day, negative that they would have lost it.

Grouped by sleeve, ``gross_pnl`` and ``net_pnl`` are the sleeves' attribution instead
(``analytics.attribution``: a position belongs to the sleeve that opened it), the one
definition a replay's summary and HTML report use too.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from quantbot.analytics.attribution import METHOD as ATTRIBUTION_METHOD
from quantbot.analytics.attribution import OrderRow, sleeve_pnl
from quantbot.analytics.tca import BPS
from quantbot.domain.reasons import ReasonCode as R
from quantbot.fsutil import ensure_private_dir, open_private_file, write_private
from quantbot.records.archive import archive_dir, open_records, rotated_files

DIMENSIONS = ("symbol", "sleeve", "profile", "order_type", "venue")
STATUSES = ("filled", "partial", "canceled", "rejected", "not_sent", "pending")
PERCENTILES = (50, 90, 99)
ZERO = Decimal(0)
# Decision reasons that mean "nothing to send" rather than a gate refusing an order.
NOT_BLOCKS = frozenset(
    {
        R.SIGNAL_WARMUP,
        R.NETTING_DEADBAND,
        R.SIZE_BELOW_LOT,
        R.SIZE_BELOW_MIN_NOTIONAL,
        R.EXEC_SHADOW_NOT_SENT,
    }
)
_GATE_PREFIXES = (
    ("DATA_", "data_contract"),
    ("CIRCUIT_OPEN_", "breaker"),
    ("BLOCK_", "policy"),
    ("GOVERNOR_", "governor"),
    ("DAILY_", "daily_risk"),
    ("HALT_", "control"),
    ("LIQUIDITY_", "liquidity"),
    ("TCA_", "tca"),
)
_GATE_CODES = {
    **dict.fromkeys(
        (
            R.ORDER_SIZE_BLOCK,
            R.PRICE_COLLAR_BLOCK,
            R.DUPLICATE_ORDER_BLOCK,
            R.RATE_THROTTLE_BLOCK,
            R.CANCEL_LOOP_BLOCK,
            R.EXECUTION_THROTTLE_DISABLE,
            R.SYMBOL_DISABLED_BLOCK,
            R.SYMBOL_NOT_ALLOWED_BLOCK,
            R.STALE_DATA_BLOCK,
            R.MARKET_CLOSED_BLOCK,
        ),
        "pretrade",
    ),
    **dict.fromkeys(
        (R.KILL_SWITCH_ACTIVE, R.SHUTDOWN_IN_PROGRESS, R.REDUCE_ONLY_ACTIVE), "control"
    ),
    R.GO_LIVE_NOT_ENABLED: "control",
    R.GO_LIVE_DISABLED: "control",
    R.ORDER_WORKING_BLOCK: "working_order",
    R.JOURNAL_WRITE_FAILED: "oms",
}


class ReportInputError(Exception):
    """The report cannot be built from what is on disk (missing file)."""


def gate_of(code: str) -> str:
    """The gate a block reason code belongs to (``other`` for codes no gate owns)."""
    for prefix, gate in _GATE_PREFIXES:
        if code.startswith(prefix):
            return gate
    return _GATE_CODES.get(code, "other")


def day_files(live: Path, date: str | None, *, later_days: bool) -> list[Path]:
    """The rotated files of ``date`` (and of later days when ``later_days``, since a later
    line may supersede), oldest first, then the live file. Every file when date is None.
    A rotated day is plain or gzipped (``records.compress_rotated``)."""
    archive = archive_dir(live)

    def wanted(day: str) -> bool:
        return date is None or day == date or (later_days and day > date)

    found = [path for day, path in rotated_files(live) if wanted(day)]
    files = found + ([live] if live.is_file() else [])
    if not files:
        raise ReportInputError(f"{live}: no such file (nor a rotated one under {archive}/)")
    return files


def read_lines(files: Iterable[Path], bad: Counter[str]) -> Iterator[dict[str, Any]]:
    """JSON objects from each file in order; a torn or unreadable line is counted, skipped."""
    for path in files:
        with open_records(path) as f:  # a rotated day may be gzipped
            for line in f:
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError:
                    bad[str(path)] += 1
                    continue
                if isinstance(row, dict):
                    yield row


def _dec(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(str(value))


def _num(value: Decimal) -> float:
    return round(float(value), 6)


def percentile(values: list[float], pct: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * pct / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (pos - low), 4)


def order_pnl(row: dict[str, Any], mark: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(gross, net, missed) PnL of one order's final record at ``mark`` (module docstring)."""
    side = Decimal(1 if row["side"] == "BUY" else -1)
    arrival, filled = _dec(row["arrival_price"]), _dec(row["filled_qty"])
    gross = side * filled * (mark - arrival)
    net = side * (filled * mark - _dec(row["notional"])) - _dec(row["fees"])
    missed = ZERO
    if row["status"] in ("canceled", "rejected"):
        missed = side * (_dec(row["qty"]) - filled) * (mark - arrival)
    return gross, net, missed


def group_stats(rows: list[dict[str, Any]], marks: dict[str, Decimal]) -> dict[str, Any]:
    """Counts, percentiles and money for one group of final TCA records."""
    status = Counter(r["status"] for r in rows)
    filled = [r for r in rows if _dec(r["filled_qty"]) > 0]
    notional = sum((_dec(r["notional"]) for r in filled), ZERO)
    is_cost = sum((_dec(r["is_cost"]) for r in filled), ZERO)
    pnl = [order_pnl(r, marks[r["symbol"]]) for r in rows]
    out: dict[str, Any] = {"orders": len(rows), **{s: status[s] for s in STATUSES}}
    out["partial_fills"] = sum(1 for r in rows if r["partial"] or r["was_partial"])
    out["filled_notional"] = _num(notional)
    out["fees"] = _num(sum((_dec(r["fees"]) for r in filled), ZERO))
    out["is_cost"] = _num(is_cost)
    out["is_bps_weighted"] = _num(is_cost / notional * BPS) if notional else None
    for field in ("is_bps", "spread_paid_bps"):
        values = [float(r[field]) for r in filled]
        for p in PERCENTILES:
            out[f"{field}_p{p}"] = percentile(values, p)
    out["proxy_spread_orders"] = sum(1 for r in filled if r["spread_source"] == "proxy")
    for i, name in enumerate(("gross_pnl", "net_pnl", "missed_pnl")):
        out[name] = _num(sum((p[i] for p in pnl), ZERO))
    return out


def block_code(record: dict[str, Any]) -> str | None:
    """The reason code of a decision a gate stopped, or None (sent, nothing to send, or
    not a decision line). Venue rejects are counted from the TCA records instead."""
    if "event" in record or "decision_id" not in record:
        return None
    order = record.get("order")
    if order is not None:
        if order.get("outcome") != "NOT_SENT":
            return None
        code = (order.get("reason") or {}).get("code")
    else:
        code = (record.get("reason") or {}).get("code")
    return None if code is None or code in NOT_BLOCKS else code


class DecisionTotals:
    """What the report needs from the decision records, in one streamed pass: the blocks
    per gate and per symbol, and each symbol's last bar close."""

    def __init__(self) -> None:
        self.by_gate: dict[str, Counter[str]] = defaultdict(Counter)
        self.by_symbol: Counter[str] = Counter()
        self.closes: dict[str, Any] = {}  # symbol -> last bar close, in first-seen order

    def add(self, record: dict[str, Any]) -> None:
        code = block_code(record)
        if code is not None:
            self.by_gate[gate_of(code)][code] += 1
            self.by_symbol[str(record.get("symbol"))] += 1
        bar = record.get("bar")
        if "decision_id" in record and isinstance(bar, dict) and bar.get("c") is not None:
            self.closes[record["symbol"]] = bar["c"]

    def blocks(self) -> dict[str, Any]:
        return {
            "total": sum(self.by_symbol.values()),
            "by_gate": {
                g: {"total": sum(c.values()), "codes": dict(sorted(c.items()))}
                for g, c in sorted(self.by_gate.items())
            },
            "by_symbol": dict(sorted(self.by_symbol.items())),
        }


def _marks(rows: list[dict[str, Any]], closes: dict[str, Any]) -> dict[str, Any]:
    """Per symbol: the last bar close of the day, else the last arrival price."""
    marks: dict[str, Any] = {}
    for row in sorted(rows, key=lambda r: r["decision_ts"]):
        marks[row["symbol"]] = {"price": _dec(row["arrival_price"]), "source": "arrival"}
    for symbol, close in closes.items():
        marks[symbol] = {"price": _dec(close), "source": "bar_close"}
    return marks


def _answers(
    groups: dict[str, Any], overall: dict[str, Any], marks: dict[str, Any]
) -> dict[str, Any]:
    by_symbol = groups["symbol"]
    flipped = sorted(s for s, g in by_symbol.items() if g["gross_pnl"] > 0 > g["net_pnl"])
    bleeding = sorted(
        (s for s, g in by_symbol.items() if g["is_bps_weighted"] is not None),
        key=lambda s: (-by_symbol[s]["is_bps_weighted"], s),
    )
    ranking = [
        {k: by_symbol[s][k] for k in ("is_bps_weighted", "is_cost", "is_bps_p50")} | {"symbol": s}
        for s in bleeding
    ]
    missed = overall["missed_pnl"]
    return {
        "profitable_before_costs_losing_after": {
            "answer": overall["gross_pnl"] > 0 > overall["net_pnl"],
            "gross_pnl": overall["gross_pnl"],
            "is_cost": overall["is_cost"],
            "fees": overall["fees"],
            "net_pnl": overall["net_pnl"],
            "symbols_flipped_by_costs": flipped,
            "marks": {
                s: {"price": _num(m["price"]), "source": m["source"]} for s, m in marks.items()
            },
        },
        "symbols_bleeding_is_bps": {
            "worst": ranking[0]["symbol"] if ranking else None,
            "ranking": ranking,
        },
        "cancels_rejects_hurting_pnl": {
            "answer": missed > 0,
            "missed_pnl": missed,
            "canceled": overall["canceled"],
            "rejected": overall["rejected"],
            "net_pnl": overall["net_pnl"],
            "method": "proxy: side x unfilled qty x (mark - arrival) over canceled and "
            "rejected orders; > 0 means the orders not filled would have made money",
        },
    }


def _input_files(
    tca_path: Path, decisions_path: Path | None, date: str | None
) -> tuple[list[Path], list[Path] | None]:
    """The TCA files (none is fine when there are decision files) and the decision files."""
    try:
        tca_files, no_tca = day_files(tca_path, date, later_days=True), None
    except ReportInputError as e:
        tca_files, no_tca = [], e
    decision_files = None
    if decisions_path is not None:
        try:
            decision_files = day_files(decisions_path, date, later_days=False)
        except ReportInputError:
            if no_tca is None:
                raise
    if no_tca is not None and decision_files is None:
        raise no_tca  # nothing at all to report on: name the TCA file, as before
    return tca_files, decision_files


def build_report(tca_path: Path, decisions_path: Path | None, *, date: str | None) -> dict:
    """Aggregate the TCA records (and decision records when given) of ``date`` (YYYY-MM-DD,
    UTC; None: everything on disk). Raises ``ReportInputError`` when a file is missing.

    No TCA file at all is a report of no orders when there are decision records: a run
    whose every order was blocked (or that wanted none) writes no TCA record, and its
    blocks per gate are what the reader wants to see."""
    bad: Counter[str] = Counter()
    latest: dict[str, dict[str, Any]] = {}
    tca_files, decision_files = _input_files(tca_path, decisions_path, date)
    for row in read_lines(tca_files, bad):
        if "client_order_id" in row and "decision_ts" in row:
            latest[row["client_order_id"]] = row
    rows = [r for r in latest.values() if date is None or r["decision_ts"][:10] == date]
    totals = DecisionTotals()  # a long replay's records are read one at a time, not kept
    if decision_files is not None:
        for d in read_lines(decision_files, bad):
            if date is None or str(d.get("ts", ""))[:10] == date:
                totals.add(d)
    report = assemble(rows, totals if decisions_path is not None else None)
    return {
        "date": date,
        "tca_file": str(tca_path) if tca_files else None,  # None: no order, no TCA record
        "decisions_file": None if decisions_path is None else str(decisions_path),
        "unreadable_lines": dict(bad),
        **report,
    }


def assemble(rows: list[dict[str, Any]], totals: DecisionTotals | None) -> dict[str, Any]:
    """The report's figures from the final TCA record of each order (``rows``) and the
    decision records' totals (None: none were read). ``analytics.daily_report`` builds the
    same from what the run wrote during the day, without reading it back."""
    marks = _marks(rows, totals.closes if totals is not None else {})
    prices = {s: m["price"] for s, m in marks.items()}
    groups: dict[str, Any] = {}
    for dim in DIMENSIONS:
        members: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            members[str(row[dim])].append(row)
        groups[dim] = {k: group_stats(v, prices) for k, v in sorted(members.items())}
    _attribute_sleeves(groups["sleeve"], rows, prices)
    overall = group_stats(rows, prices)
    return {
        "overall": overall,
        "groups": groups,
        "blocks": totals.blocks() if totals is not None else None,
        "answers": _answers(groups, overall, marks),
        "sleeve_pnl_method": ATTRIBUTION_METHOD,
    }


def _attribute_sleeves(
    by_sleeve: dict[str, Any], rows: list[dict[str, Any]], marks: dict[str, Decimal]
) -> None:
    """A sleeve's PnL is not the sum of its orders' PnL to the mark: an exit booked to one
    sleeve would then own the move of a position another sleeve opened. It is the one
    definition of ``analytics.attribution``, the same a replay's summary shows."""
    attributed = sleeve_pnl(map(OrderRow.of, rows), marks)
    for sleeve, group in by_sleeve.items():
        pnl = attributed.get(sleeve, {"gross": ZERO, "net": ZERO})
        group["gross_pnl"], group["net_pnl"] = _num(pnl["gross"]), _num(pnl["net"])


CSV_COLUMNS = ("dimension", "key", *group_stats([], {}).keys(), "blocks")


def write_report(
    report: dict[str, Any], out_dir: Path, *, prefix: str = "tca-report"
) -> tuple[Path, Path]:
    """Write ``<prefix>-<date|all>.json`` (all of it) and ``.csv`` (one row per group,
    then one per gate with its block count) under ``out_dir``."""
    ensure_private_dir(out_dir)
    stem = out_dir / f"{prefix}-{report['date'] or 'all'}"
    json_path, csv_path = stem.with_suffix(".json"), stem.with_suffix(".csv")
    write_private(json_path, orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    rows = [{"dimension": "all", "key": "all", **report["overall"]}]
    for dim, groups in report["groups"].items():
        rows.extend({"dimension": dim, "key": key, **stats} for key, stats in groups.items())
    for gate, blocked in ((report["blocks"] or {}).get("by_gate") or {}).items():
        rows.append({"dimension": "gate", "key": gate, "blocks": blocked["total"]})
    with open_private_file(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return json_path, csv_path
