"""--cost from_tca:PATH: the median measured cost of a run's filled orders."""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson
import pytest

from quantbot.cli.walk_forward import _cost
from quantbot.research.walk_forward.cost import tca_cost_bps


def _tca(path: Path, *records: dict) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def test_the_median_of_the_filled_orders_last_records(tmp_path: Path) -> None:
    path = _tca(
        tmp_path / "tca.jsonl",
        {"client_order_id": "a", "status": "pending", "total_cost_bps": None},
        {"client_order_id": "a", "status": "filled", "total_cost_bps": 4.0},
        {"client_order_id": "b", "status": "filled", "total_cost_bps": 10.0},
        {"client_order_id": "c", "status": "filled", "total_cost_bps": 6.0},
        {"client_order_id": "d", "status": "rejected", "total_cost_bps": None},
    )
    assert tca_cost_bps(path) == 6.0
    assert tca_cost_bps(tmp_path) == 6.0  # a directory of tca*.jsonl
    assert _cost(f"from_tca:{path}") == 6.0
    assert _cost("fixed:5") == 5.0


def test_no_filled_orders_or_no_file_is_a_usage_error_naming_the_path(tmp_path: Path) -> None:
    empty = _tca(tmp_path / "tca.jsonl", {"client_order_id": "a", "status": "rejected"})
    with pytest.raises(argparse.ArgumentTypeError, match="no filled orders"):
        _cost(f"from_tca:{empty}")
    with pytest.raises(argparse.ArgumentTypeError, match="no TCA records there"):
        _cost(f"from_tca:{tmp_path / 'missing.jsonl'}")
    with pytest.raises(argparse.ArgumentTypeError, match="from_tca:PATH"):
        _cost("tca")
