"""The walk-forward's cost model from measured TCA (the seeds' ``from_tca``): the median
total cost (implementation shortfall plus fees, in bps of the fill's value) of the filled
orders in TCA records (``tca.jsonl`` of a paper or live run, or a directory of them), used as
the fixed cost of every replayed fill. A median, so one bad fill does not set the cost."""

from __future__ import annotations

import statistics
from pathlib import Path

import orjson

from quantbot.domain.errors import DataError


def tca_cost_bps(path: Path) -> float:
    """The median ``total_cost_bps`` of the filled orders in ``path``'s TCA records (the last
    record of each order counts); a file or a directory of ``tca*.jsonl``."""
    files = sorted(path.glob("tca*.jsonl")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise DataError(f"--cost from_tca:{path}: no TCA records there (tca*.jsonl)")
    latest: dict[str, dict] = {}
    for file in files:
        for number, line in enumerate(file.read_bytes().splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise DataError(f"{file}:{number}: not a TCA record ({e})") from e
            if isinstance(record, dict) and "client_order_id" in record:
                latest[record["client_order_id"]] = record
    costs = [
        float(r["total_cost_bps"])
        for r in latest.values()
        if r.get("status") == "filled" and r.get("total_cost_bps") is not None
    ]
    if not costs:
        raise DataError(f"--cost from_tca:{path}: no filled orders with a total_cost_bps")
    # A negative median (fills better than arrival on average) is luck, not a rebate: 0.
    return round(max(statistics.median(costs), 0.0), 4)
