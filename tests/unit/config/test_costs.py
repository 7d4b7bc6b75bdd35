"""The [cost_gate] and [turnover] sections: defaults, per-profile values, and the checks
that name the file, line and key."""

from __future__ import annotations

from pathlib import Path

from quantbot.config.schema import load_config
from tests.unit.config.test_schema import load_error, write


def test_the_active_profiles_values_are_the_resolved_risk_params(tmp_path: Path) -> None:
    path = write(tmp_path, "[cost_gate.aggressive]\nentry_cost_buffer_bps = 0.5\n"
                 "[turnover.aggressive]\nmax_symbol_equity_x = 0.25\n")  # fmt: skip
    config = load_config(path, environ={}, trading_profile="aggressive").config
    assert config.risk_params.cost_gate.entry_cost_buffer_bps == 0.5
    # a key left out keeps its profile's own default, not the conservative one
    assert config.risk_params.turnover.max_symbol_equity_x == 0.25
    assert config.risk_params.turnover.max_daily_equity_x == 12.0
    conservative = load_config(path, environ={}).config.risk_params
    assert conservative.cost_gate.entry_cost_buffer_bps == 5.0
    assert (conservative.turnover.max_symbol_equity_x, conservative.turnover.max_daily_equity_x) \
        == (1.0, 3.0)  # fmt: skip


def test_a_symbols_edge_scale_is_read_from_its_table(tmp_path: Path) -> None:
    path = write(tmp_path, '[cost_gate.edge_scale_bps_by_symbol]\n"BTC/USDT" = 60\nAAPL = 150.0\n')
    gate = load_config(path, environ={}).config.cost_gate
    assert gate.edge_scale("BTC/USDT") == 60.0 and gate.edge_scale("AAPL") == 150.0
    assert gate.edge_scale("MSFT") == gate.edge_scale_bps == 100.0


def test_bad_values_name_the_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[cost_gate.edge_scale_bps_by_symbol]\nAAPL = 0\n")
    assert load_error(path) == (
        f"{path}:2: cost_gate.edge_scale_bps_by_symbol.AAPL = 0.0: must be > 0 and <= 10000 (bps)"
    )
    path = write(tmp_path, "[turnover.balanced]\nmax_symbol_equity_x = 7.0\n")
    assert load_error(path) == (
        f"{path}:2: turnover.balanced.max_symbol_equity_x = 7.0: must not be above "
        "turnover.balanced.max_daily_equity_x (6.0)"
    )
    path = write(tmp_path, "[turnover.conservative]\nmax_daily_equity_x = 0\n")
    assert "turnover.conservative.max_daily_equity_x = 0" in load_error(path)
