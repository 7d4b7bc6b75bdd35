"""The sleeves part of the config, as a user writes it: which sleeves run, their parameters
and their weights per profile, and the errors (file, line, key) when a declaration is wrong."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from quantbot.config.schema import load_config
from quantbot.domain.errors import ConfigError

WEIGHTS_1 = "".join(
    f"[regime_components.{p}]\nmine = 1.0\n\n" for p in ("conservative", "balanced", "aggressive")
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=environ or {})
    return str(info.value)


def test_the_shipped_config_resolves_to_the_tree_and_hash_it_always_had(repo_root: Path) -> None:
    loaded = load_config(repo_root / "config.toml", environ={})
    plain = loaded.plain()
    assert plain["signals"] == {
        "trend": {"fast": 10, "slow": 30, "scale": 2.0},
        "mean_reversion": {"window": 20, "entry_z": 1.0, "max_z": 3.0},
    }
    assert plain["regime_components"] == {
        "conservative": {"trend": 0.7, "mean_reversion": 0.3, "external": 1.0},
        "balanced": {"trend": 0.5, "mean_reversion": 0.5, "external": 1.0},
        "aggressive": {"trend": 0.4, "mean_reversion": 0.6, "external": 1.0},
    }
    # The decision records' config_hash: the same as before sleeves were declared by name
    # (changed since, on purpose: the [orders] section of issue 16, the [golive] section of
    # issue 18, the [notify], [dashboard] sections, [records] retention and the first run's
    # market and sizing of issue 19, the liquidity regime, the drawdown breaker, the
    # quarantine, the cost gate and turnover caps, post-trade learning and allocation of
    # issue 20, the [models] section of issue 21).
    assert loaded.hash == "5ca4f0b3e66d3290b5463389e32b7b0af5cad867bd3e03ab8d880db9a29fe903"


def test_a_file_declares_the_sleeves_that_run_in_its_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[signals.mean_reversion]\nwindow = 30\n\n[signals.mine]\nkind = "ema_sar"\nslow = 50\n\n'
        + WEIGHTS_1,
    )
    config = load_config(path, environ={}).config

    assert list(config.signals) == ["mean_reversion", "mine"]  # no trend: not declared
    assert config.signals["mean_reversion"].params == {"window": 30, "entry_z": 1.0, "max_z": 3.0}
    assert config.signals["mine"].params == {"fast": 10, "slow": 50}
    # The shipped sleeve keeps its default weight; the records' order is the declarations'.
    assert attrs.asdict(config.components) == {"mean_reversion": 0.3, "mine": 1.0, "external": 1.0}


def test_a_declared_sleeve_without_a_weight_is_an_error_at_its_declaration(tmp_path: Path) -> None:
    text = '[signals.mine]\nkind = "ema_sar"\n\n' + WEIGHTS_1.replace(
        "[regime_components.balanced]\nmine = 1.0\n", ""
    )
    path = write(tmp_path, text)
    assert load_error(path) == (
        f"{path}:1: signals.mine = {{'kind': 'ema_sar', 'fast': 10, 'slow': 30}}: has no weight "
        "in regime_components.balanced (add mine = <weight> there; 0 runs and records it "
        "without trading on it)"
    )


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ("mine = -0.5\n", "{path}:8: regime_components.balanced.mine = -0.5: must be >= 0"),
        (
            "mine = 0.0\nexternal = 0.0\n",
            "{path}:7: regime_components.balanced = {{'external': 0.0, 'mine': 0.0}}: at least "
            "one sleeve weight must be positive",
        ),
    ],
)
def test_weights_are_checked_with_their_line(tmp_path: Path, table: str, error: str) -> None:
    text = '[signals.mine]\nkind = "ema_sar"\n\n' + WEIGHTS_1.replace(
        "[regime_components.balanced]\nmine = 1.0\n", f"[regime_components.balanced]\n{table}"
    )
    path = write(tmp_path, text)
    assert load_error(path) == error.format(path=path)


BAD_DECLARATIONS = [
    # (declaration, line, the error after "file:line: ")
    (
        '[signals.slow_trend]\nkind = "trend"\nfast = 0\n',
        3,
        "signals.slow_trend.fast = 0: must be >= 1",
    ),
    (
        '[signals.slow_trend]\nkind = "trend"\nfast = 30\nslow = 30\n',
        3,
        "signals.slow_trend.fast = 30: must be below signals.slow_trend.slow (30)",
    ),
    (
        "[signals.mean_reversion]\nentry_z = 2.0\nmax_z = 2.0\n",
        3,
        "signals.mean_reversion.max_z = 2.0: must be above signals.mean_reversion.entry_z (2.0)",
    ),
    (
        "[signals.trend]\nfsat = 3\n",
        2,
        "signals.trend.fsat = 3: unknown key (known keys here: fast, scale, slow)",
    ),
    (
        "[signals.breakout]\nwindow = 20\n",
        1,
        "signals.breakout = {'window': 20}: no kind given, and the name is not a built-in kind "
        "(built-in kinds: trend, mean_reversion, ema_sar, logistic_model; a class of your own "
        "is 'module:Class' or 'path/file.py:Class')",
    ),
    (
        "[signals.trnd]\nfast = 3\n",
        1,
        "signals.trnd = {'fast': 3}: no kind given, and the name is not a built-in kind "
        "(built-in kinds: trend, mean_reversion, ema_sar, logistic_model; a class of your own "
        "is 'module:Class' or 'path/file.py:Class'); did you mean 'trend'?",
    ),
    (
        "[signals.external]\nttl_s = 5.0\n",
        1,
        "signals.external = {'ttl_s': 5.0}: external is the inbox's sleeve: it runs when "
        "[inbox] enabled = true, and its weight is regime_components.<profile>.external",
    ),
    (
        '[signals.Fast]\nkind = "trend"\n',
        1,
        "signals.Fast = {'kind': 'trend'}: a sleeve's name is lowercase letters, digits and _ "
        "(and not a Python keyword)",
    ),
    ("[signals.mine]\nkind = 3\n", 2, "signals.mine.kind = 3: must be a string"),
]


@pytest.mark.parametrize(("text", "line", "error"), BAD_DECLARATIONS)
def test_a_bad_declaration_names_its_file_line_and_key(
    tmp_path: Path, text: str, line: int, error: str
) -> None:
    path = write(tmp_path, text)
    assert load_error(path) == f"{path}:{line}: {error}"


def test_the_environment_changes_a_declared_sleeve_and_cannot_declare_one(tmp_path: Path) -> None:
    path = write(tmp_path, '[signals.mine]\nkind = "ema_sar"\n\n' + WEIGHTS_1)
    loaded = load_config(path, environ={"QUANTBOT__SIGNALS__MINE__FAST": "4"})
    assert loaded.config.signals["mine"].params == {"fast": 4, "slow": 30}
    assert loaded.env_keys == {"signals.mine.fast": "QUANTBOT__SIGNALS__MINE__FAST"}

    error = load_error(path, {"QUANTBOT__SIGNALS__TREND__FAST": "3"})
    assert error == (
        "environment QUANTBOT__SIGNALS__TREND__FAST: signals.trend is not a declared sleeve "
        "(declared: mine)"
    )
    error = load_error(path, {"QUANTBOT__SIGNALS__MINE__FAST": "0"})
    assert error == "environment QUANTBOT__SIGNALS__MINE__FAST: signals.mine.fast = 0: must be >= 1"
    error = load_error(path, {"QUANTBOT__REGIME_COMPONENTS__BALANCED__TREND": "0.5"})
    assert error == (
        "environment QUANTBOT__REGIME_COMPONENTS__BALANCED__TREND: "
        "regime_components.balanced.trend = 0.5: names no declared sleeve (declared: mine; "
        "external is the inbox's sleeve)"
    )


def test_without_a_signals_table_the_shipped_sleeves_run_and_take_env_changes() -> None:
    loaded = load_config(
        None,
        environ={
            "QUANTBOT__SIGNALS__TREND__FAST": "3",
            "QUANTBOT__REGIME_COMPONENTS__CONSERVATIVE__MEAN_REVERSION": "0",
        },
    )
    config = loaded.config
    assert list(config.signals) == ["trend", "mean_reversion"]
    assert config.signals["trend"].params == {"fast": 3, "slow": 30, "scale": 2.0}
    assert attrs.asdict(config.components) == {"trend": 0.7, "mean_reversion": 0.0, "external": 1.0}
