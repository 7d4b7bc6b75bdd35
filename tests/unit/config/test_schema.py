"""The config as a user meets it: config.toml, environment overrides, profiles, the hash."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import typing
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import attrs
import orjson
import pytest

from quantbot.config.schema import (
    PROFILES,
    Config,
    Liquidity,
    Profiles,
    RegimeComponents,
    config_hash,
    load_config,
    read_secret,
    redacted,
)
from quantbot.domain.errors import ConfigError


def leaf_paths(cls: type, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every key the schema knows, as a dotted path (nested attrs classes are tables)."""
    hints = typing.get_type_hints(cls)
    for field in attrs.fields(cls):
        tp = hints[field.name]
        if attrs.has(tp):
            yield from leaf_paths(tp, (*prefix, field.name))
        else:
            yield (*prefix, field.name)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path | None, **kwargs: typing.Any) -> str:
    kwargs.setdefault("environ", {})
    with pytest.raises(ConfigError) as info:
        load_config(path, **kwargs)
    return str(info.value)


@pytest.fixture
def repo_config(repo_root: Path) -> Path:
    return repo_root / "config.toml"


# -- the shipped config.toml -------------------------------------------------------------------


def test_repo_config_toml_loads_to_the_built_in_defaults_and_hashes_the_same(
    repo_config: Path,
) -> None:
    from_file = load_config(repo_config, environ={})
    defaults = load_config(None, environ={})

    assert from_file.config == defaults.config
    assert from_file.hash == defaults.hash
    assert from_file.path == repo_config
    assert from_file.env_keys == {}


def test_repo_config_toml_sets_every_key_of_the_schema(repo_config: Path) -> None:
    data = tomllib.loads(repo_config.read_text(encoding="utf-8"))
    keys = list(leaf_paths(Config))
    assert len(keys) > 40  # the walk reached the nested tables

    def present(path: tuple[str, ...]) -> bool:
        node: typing.Any = data
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    assert [".".join(p) for p in keys if not present(p)] == []


# -- unknown keys, wrong types, out-of-range values ---------------------------------------------

UNKNOWN_KEY_CASES = [
    # (document, dotted key named, line)
    (
        '[run]\nstate_dir = "s"\n\n[venue.sim]\nfee_bps = 1.0\nfee_bsp = 2.0\n',
        "venue.sim.fee_bsp",
        6,
    ),
    ("# a comment\n[venu]\nname = 'sim'\n", "venu", 2),
    ("[profiles.moderate]\nequity_fraction = 0.1\n", "profiles.moderate", 1),
    (
        '[run]\ntrading_profile = "balanced"\ntradng_profile = "aggressive"\n',
        "run.tradng_profile",
        3,
    ),
    ("[signals]\ntrend.fast = 5\ntrend.fastt = 6\n", "signals.trend.fastt", 3),
]


@pytest.mark.parametrize(("text", "key", "line"), UNKNOWN_KEY_CASES)
def test_unknown_key_is_an_error_naming_the_dotted_key_and_its_line(
    tmp_path: Path, text: str, key: str, line: int
) -> None:
    path = write(tmp_path, text)
    message = load_error(path)
    assert message.startswith(f"{path}:{line}: {key} = ")
    assert "unknown key (known keys here:" in message


def test_unknown_key_lists_the_keys_that_are_known_there(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, "[venue.sim]\nfee_bsp = 2.0\n"))
    assert (
        "known keys here: buying_power_multiple, fee_bps, fill_model, impact_coef, "
        "initial_cash, participation_cap, proxy_spread_bps, range_spread_coef, session, "
        "slippage_bps, slippage_model" in message
    )


BAD_VALUE_CASES = [
    # (document, expected message after "<path>:<line>: ")
    ('[venue.sim]\nfee_bps = "2.5"\n', "venue.sim.fee_bps = '2.5': must be a number", 2),
    ("[signals.trend]\nfast = true\n", "signals.trend.fast = True: must be an integer", 2),
    ("[market]\nseed = 1.5\n", "market.seed = 1.5: must be an integer", 2),
    ("[run]\nstate_dir = 3\n", "run.state_dir = 3: must be a string", 2),
    ("[market]\nsymbols = 'SIMA'\n", "market.symbols = 'SIMA': must be an array", 2),
    ("\n[market]\nsymbols = ['SIMA', 1]\n", "market.symbols.1 = 1: must be a string", 3),
    ("[venue]\nsim = 5\n", "venue.sim = 5: must be a table", 2),
    ("[venue.sim]\nfee_bps = -1\n", "venue.sim.fee_bps = -1.0: must be >= 0", 2),
    ("[venue.sim]\nparticipation_cap = 1.5\n", "venue.sim.participation_cap = 1.5: must be "
     "<= 1", 2),
    ("[profiles.balanced]\nequity_fraction = 0\n", "profiles.balanced.equity_fraction = 0.0: "
     "must be > 0", 2),
    ("[market]\nseed = -1\n", "market.seed = -1: must be >= 0", 2),
    ("[run]\nlog_level = 'VERBOSE'\n", "run.log_level = 'VERBOSE': must be one of TRACE, DEBUG, "
     "INFO, WARNING, ERROR", 2),
    ("[instrument_defaults]\ntick_size = 'abc'\n", "instrument_defaults.tick_size = 'abc': must "
     "be a decimal number", 2),
    ("[instrument_defaults]\ntick_size = '0'\n", "instrument_defaults.tick_size = "
     "Decimal('0'): must be > 0", 2),
    ("[venue.sim]\nslippage_bps = nan\n", "venue.sim.slippage_bps = nan: must be finite", 2),
    ("[venue]\nsim = { fee_bps = 1.0, slippage_bps = -2.0 }\n", "venue.sim.slippage_bps = -2.0: "
     "must be >= 0", 2),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected", "line"), BAD_VALUE_CASES)
def test_wrong_type_or_out_of_range_names_file_line_key_and_value(
    tmp_path: Path, text: str, expected: str, line: int
) -> None:
    path = write(tmp_path, text)
    assert load_error(path) == f"{path}:{line}: {expected}"


def test_cross_key_rules_are_checked_after_the_types(tmp_path: Path) -> None:
    path = write(tmp_path, "[signals.trend]\nfast = 30\nslow = 30\n")
    assert load_error(path) == (
        f"{path}:2: signals.trend.fast = 30: must be below signals.trend.slow (30)"
    )
    path = write(tmp_path, "[market]\nsymbols = ['A', 'B', 'A']\n")
    assert load_error(path) == f"{path}:2: market.symbols = ['A', 'B', 'A']: lists a symbol twice"


def test_decimal_settings_keep_their_exact_value(tmp_path: Path) -> None:
    path = write(tmp_path, "[instrument_defaults]\ntick_size = '0.05'\nlot_size = 0.001\n")
    config = load_config(path, environ={}).config
    assert config.instrument_defaults.tick_size == Decimal("0.05")
    assert config.instrument_defaults.lot_size == Decimal("0.001")


def test_unreadable_and_invalid_toml_files_are_config_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert load_error(missing).startswith(f"{missing}: cannot read config file")
    broken = write(tmp_path, "[run\n")
    assert load_error(broken).startswith(f"{broken}: not valid TOML")


# -- environment overrides ----------------------------------------------------------------------


def test_env_override_is_applied_and_listed_in_env_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "[venue.sim]\nfee_bps = 1.0\n")
    environ = {
        "QUANTBOT__VENUE__SIM__FEE_BPS": "2.5",
        "QUANTBOT__PROFILES__BALANCED__DEADBAND": "0.15",
        "QUANTBOT_NOT_OURS": "x",  # one underscore: not an override
        "PATH": "/usr/bin",
    }
    loaded = load_config(path, environ=environ)

    assert loaded.config.venue.sim.fee_bps == 2.5
    assert loaded.config.profiles.balanced.deadband == 0.15
    assert loaded.env_keys == {
        "venue.sim.fee_bps": "QUANTBOT__VENUE__SIM__FEE_BPS",
        "profiles.balanced.deadband": "QUANTBOT__PROFILES__BALANCED__DEADBAND",
    }
    assert loaded.hash != load_config(path, environ={}).hash


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("QUANTBOT__VENUE__SIM__FEE_BPS", "-1", "venue.sim.fee_bps = -1.0: must be >= 0"),
        ("QUANTBOT__VENUE__SIM__FEE_BPS", "cheap", "venue.sim.fee_bps = 'cheap': must be a number"),
        ("QUANTBOT__VENUE__SIM__FEE_BPS", "true", "venue.sim.fee_bps = True: must be a number"),
        ("QUANTBOT__SIGNALS__TREND__FAST", "true", "signals.trend.fast = True: must be an integer"),
        ("QUANTBOT__MARKET__SYMBOLS", '["A", 2]', "market.symbols.1 = 2: must be a string"),
        (
            "QUANTBOT__RUN__LOG_LEVEL",
            "LOUD",
            "run.log_level = 'LOUD': must be one of TRACE, DEBUG, INFO, WARNING, ERROR",
        ),
    ],
)
def test_env_override_is_validated_like_the_file_and_the_error_names_the_variable(
    repo_config: Path, name: str, raw: str, expected: str
) -> None:
    assert load_error(repo_config, environ={name: raw}) == f"environment {name}: {expected}"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "QUANTBOT__VENUE__SIM__FEE_BSP",
            "environment QUANTBOT__VENUE__SIM__FEE_BSP: venue.sim.fee_bsp is not a config key",
        ),
        ("QUANTBOT__VENU__NAME", "environment QUANTBOT__VENU__NAME: venu is not a config key"),
        (
            "QUANTBOT__VENUE__SIM",
            "environment QUANTBOT__VENUE__SIM: venue.sim is a table, not a key",
        ),
        (
            "QUANTBOT__RUN__STATE_DIR__X",
            "environment QUANTBOT__RUN__STATE_DIR__X: run.state_dir.x is not a config key",
        ),
    ],
)
def test_prefixed_variable_naming_no_key_is_an_error(name: str, expected: str) -> None:
    assert load_error(None, environ={name: "1"}) == expected


@pytest.mark.parametrize(
    ("name", "raw", "get", "value"),
    [
        ("QUANTBOT__VENUE__SIM__SLIPPAGE_BPS", "2.5", lambda c: c.venue.sim.slippage_bps, 2.5),
        ("QUANTBOT__VENUE__SIM__SLIPPAGE_BPS", "3", lambda c: c.venue.sim.slippage_bps, 3.0),
        ("QUANTBOT__MARKET__SYMBOLS", '["A","B"]', lambda c: c.market.symbols, ["A", "B"]),
        ("QUANTBOT__RUN__STATE_DIR", "/var/lib/qb", lambda c: c.run.state_dir, "/var/lib/qb"),
        ("QUANTBOT__RUN__CLIENT_ID_NAMESPACE", "acct-7", lambda c: c.run.client_id_namespace,
         "acct-7"),
        ("QUANTBOT__RUN__CLIENT_ID_NAMESPACE", '"2024"', lambda c: c.run.client_id_namespace,
         "2024"),
        ("QUANTBOT__RUN__CLIENT_ID_NAMESPACE", "2024", lambda c: c.run.client_id_namespace,
         "2024"),
        ("QUANTBOT__VENUE__SIM__INITIAL_CASH", '"2500.50"', lambda c: c.venue.sim.initial_cash,
         Decimal("2500.50")),
        ("QUANTBOT__venue__sim__fee_bps", "0", lambda c: c.venue.sim.fee_bps, 0.0),
    ],
)  # fmt: skip
def test_env_values_are_read_as_toml_or_else_as_a_plain_string(
    name: str, raw: str, get: typing.Any, value: object
) -> None:
    assert get(load_config(None, environ={name: raw}).config) == value


def test_env_override_wins_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[venue.sim]\nfee_bps = 1.0\n")
    loaded = load_config(path, environ={"QUANTBOT__VENUE__SIM__FEE_BPS": "4"})
    assert loaded.config.venue.sim.fee_bps == 4.0


# -- the trading profile is its own switch ------------------------------------------------------


def test_profile_moderate_in_the_file_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    path = write(tmp_path, '[run]\n\ntrading_profile = "moderate"\n')
    assert load_error(path) == (
        f"{path}:3: run.trading_profile = 'moderate': unknown trading profile "
        "(use one of conservative, balanced, aggressive)"
    )


def test_profile_moderate_from_the_command_line_or_env_is_an_error(repo_config: Path) -> None:
    message = load_error(repo_config, trading_profile="moderate")
    assert message.startswith("command line --trading-mode: run.trading_profile = 'moderate'")
    message = load_error(None, environ={"QUANTBOT__RUN__TRADING_PROFILE": "moderate"})
    assert message.startswith(
        "environment QUANTBOT__RUN__TRADING_PROFILE: run.trading_profile = 'moderate'"
    )


def test_command_line_profile_with_a_run_that_is_not_a_table_is_a_config_error(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, 'run = "fast"\n')
    assert load_error(path, trading_profile="balanced") == (
        f"{path}:1: run = 'fast': must be a table"
    )


@pytest.mark.parametrize("table", ["profiles", "regime_components", "liquidity"])
def test_profile_tables_have_explicit_entries_for_each_profile_and_no_moderate(
    repo_config: Path, table: str
) -> None:
    data = tomllib.loads(repo_config.read_text(encoding="utf-8"))
    assert sorted(data[table]) == sorted(PROFILES)
    assert "moderate" not in data[table]


@pytest.mark.parametrize("schema", [Profiles, RegimeComponents, Liquidity])
def test_profile_keyed_schemas_are_keyed_by_the_three_profile_names(schema: type) -> None:
    assert [f.name for f in attrs.fields(schema)] == list(PROFILES)


@pytest.mark.parametrize("profile", PROFILES)
def test_selecting_a_profile_changes_only_the_profile_parameters(profile: str) -> None:
    defaults = load_config(None, environ={})
    chosen = load_config(None, environ={}, trading_profile=profile).config

    assert chosen.run.trading_profile == profile
    assert chosen.profile == getattr(defaults.config.profiles, profile)
    assert attrs.asdict(chosen.components) == getattr(defaults.config.regime_components, profile)
    assert chosen.liquidity_thresholds == getattr(defaults.config.liquidity, profile)
    # Everything but the name is the same tree: the execution mode, venue, signals ... untouched.
    back = attrs.evolve(chosen, run=attrs.evolve(chosen.run, trading_profile="conservative"))
    assert back == defaults.config


def test_the_three_profiles_really_differ() -> None:
    config = load_config(None, environ={}).config
    for table in (config.profiles, config.liquidity):
        values = [getattr(table, p) for p in PROFILES]
        assert len({attrs.astuple(v) for v in values}) == 3
    weights = [getattr(config.regime_components, p) for p in PROFILES]
    assert len({tuple(w.items()) for w in weights}) == 3


def test_the_cli_profile_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[run]\ntrading_profile = "aggressive"\n')
    loaded = load_config(path, environ={}, trading_profile="balanced")
    assert loaded.config.run.trading_profile == "balanced"
    assert loaded.config.liquidity_thresholds.min_bar_notional == 20_000.0


# -- the hash -----------------------------------------------------------------------------------


def test_config_hash_is_the_same_in_another_process_with_another_hash_seed() -> None:
    here = load_config(None, environ={}).hash
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTBOT__")}
    env["PYTHONHASHSEED"] = "12345"
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from quantbot.config.schema import load_config; print(load_config(None).hash)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == here
    assert len(here) == 64 and int(here, 16) >= 0


def test_config_hash_ignores_key_order_and_changes_with_a_value(tmp_path: Path) -> None:
    a = write(
        tmp_path,
        "[run]\nlog_level = 'DEBUG'\nstate_dir = 's'\n[venue.sim]\nfee_bps = 1.5\n"
        "slippage_bps = 3.0\n",
    )
    b = tmp_path / "b.toml"
    b.write_text(
        "[venue.sim]\nslippage_bps = 3.0\nfee_bps = 1.5\n[run]\nstate_dir = 's'\n"
        "log_level = 'DEBUG'\n"
    )
    c = tmp_path / "c.toml"
    c.write_text(b.read_text().replace("fee_bps = 1.5", "fee_bps = 1.6"))

    hash_a = load_config(a, environ={}).hash
    assert load_config(b, environ={}).hash == hash_a
    assert load_config(c, environ={}).hash != hash_a
    assert config_hash({"b": 1, "a": {"y": 2, "x": 3}}) == config_hash(
        {"a": {"x": 3, "y": 2}, "b": 1}
    )
    assert config_hash({"a": 1}) != config_hash({"a": 2})


# -- secrets ------------------------------------------------------------------------------------


def test_redacted_reports_presence_and_never_a_secret_value() -> None:
    loaded = load_config(None, environ={})
    plain = loaded.plain()
    environ = {"APCA_API_KEY_ID": "AK-SECRET-KEY-VALUE", "QUANTBOT_CCXT_SECRET": ""}

    shown = redacted(plain, environ)

    alpaca, ccxt = shown["venue"]["alpaca"], shown["venue"]["ccxt"]
    assert alpaca["key_env"] == "APCA_API_KEY_ID"
    assert alpaca["key_env_present"] is True
    assert alpaca["secret_env_present"] is False
    assert ccxt["key_env_present"] is False
    assert ccxt["secret_env_present"] is False  # set but empty counts as missing
    assert b"AK-SECRET-KEY-VALUE" not in orjson.dumps(shown)
    assert "key_env_present" not in plain["venue"]["alpaca"]  # the input is left alone


def test_redacted_with_an_empty_env_name_is_not_present() -> None:
    plain = load_config(None, environ={"QUANTBOT__VENUE__CCXT__KEY_ENV": '""'}).plain()
    shown = redacted(plain, {"": "x"})
    assert shown["venue"]["ccxt"]["key_env_present"] is False


def test_read_secret_reads_only_the_named_variable() -> None:
    environ = {"MY_KEY": "s3cret", "EMPTY": ""}
    assert read_secret("MY_KEY", environ) == "s3cret"
    assert read_secret("EMPTY", environ) is None
    assert read_secret("UNSET", environ) is None
    assert read_secret("", environ) is None


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"QUANTBOT__PRETRADE__CANARY_SYMBOLS": '["NOPE"]'}, "pretrade.canary_symbols"),
        ({"QUANTBOT__PRETRADE__ALLOWED_SYMBOLS": '["NOPE"]'}, "pretrade.allowed_symbols"),
        (
            {
                "QUANTBOT__PRETRADE__ALLOWED_SYMBOLS": '["SIMA"]',
                "QUANTBOT__PRETRADE__CANARY_SYMBOLS": '["SIMB"]',
            },
            "must also be in pretrade.allowed_symbols",
        ),
    ],
)
def test_canary_and_allow_list_must_name_traded_symbols(env: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        load_config(None, environ=env)


def test_an_override_of_one_profile_key_keeps_that_profiles_other_values() -> None:
    # No file: the aggressive governor table starts from the aggressive defaults, so changing
    # its leverage leaves its position cap at 40,000 (not the class-wide 5,000).
    loaded = load_config(
        None,
        environ={
            "QUANTBOT__GOVERNOR__AGGRESSIVE__MAX_LEVERAGE": "70",
            "QUANTBOT__REGIME_COMPONENTS__CONSERVATIVE__MEAN_REVERSION": "0",
        },
    )
    aggressive = loaded.config.governor.aggressive
    assert (aggressive.max_leverage, aggressive.max_position_usd) == (70.0, 40_000.0)
    conservative = loaded.config.regime_components.conservative
    assert (conservative["trend"], conservative["mean_reversion"]) == (0.7, 0.0)


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"QUANTBOT__VENUE__NAME": "ccxt"}, 'must be "venue" exactly when venue.name is a real'),
        ({"QUANTBOT__MARKET__SOURCE": "venue"}, 'venue.name = "sim" has no market data'),
    ],
)
def test_a_real_venue_trades_on_its_own_market_data_only(env: dict[str, str], problem: str) -> None:
    # Synthetic or file prices against a real book would trade on made-up prices.
    with pytest.raises(ConfigError, match=problem):
        load_config(None, environ=env)
    both = {"QUANTBOT__VENUE__NAME": "alpaca", "QUANTBOT__MARKET__SOURCE": "venue"}
    assert load_config(None, environ=both).config.venue.name == "alpaca"
