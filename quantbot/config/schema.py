"""The configuration schema: one frozen tree, checked before anything starts.

Every key in ``config.toml`` maps to a field here; the defaults here are the paper-safe values
that ``config.toml`` documents. Execution mode is *not* in the config (it is a CLI switch);
the trading profile is (``run.trading_profile``) and only picks a named parameter set.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import orjson

from quantbot.config import loader, sleeves
from quantbot.config.allocation import AllocationConfig, allocation_problems
from quantbot.config.charter import CharterConfig, charter_problems
from quantbot.config.compaction import CompactionConfig
from quantbot.config.costs import CostGateConfig, TurnoverConfig, costs_problems
from quantbot.config.dashboard import DashboardConfig
from quantbot.config.drawdown import DrawdownConfig
from quantbot.config.golive import GoLiveConfig
from quantbot.config.learning import LearningConfig
from quantbot.config.limits import defaulted_limits, require_stated
from quantbot.config.liquidity import Liquidity, LiquidityThresholds, liquidity_problems
from quantbot.config.loader import setting
from quantbot.config.models import ModelsConfig
from quantbot.config.notify import NotifyConfig, notify_problems
from quantbot.config.ops import (
    AlertsConfig,
    BreakerConfig,
    ControlConfig,
    OmsConfig,
    PretradeConfig,
    ReconcileConfig,
    RetryConfig,
    TcaConfig,
    WatchdogConfig,
    tca_problems,
    watchdog_problems,
)
from quantbot.config.orders import OrderParams, OrdersConfig, orders_problems
from quantbot.config.portfolio_risk import (
    GovernorCapsConfig,
    PortfolioRiskConfig,
    portfolio_risk_problems,
)
from quantbot.config.providers import ProvidersConfig, providers_problems
from quantbot.config.quarantine import QuarantineConfig, quarantine_problems
from quantbot.config.risk import (
    DailyRiskConfig,
    GovernorConfig,
    InboxConfig,
    LimitsConfig,
    PolicyConfig,
    RiskParams,
    SizerConfig,
    risk_problems,
)
from quantbot.config.session import SessionConfig, session_problems
from quantbot.config.sleeves import (
    default_signals,
    default_weights,
    fill_in,
    weights_record,
    with_origin,
)
from quantbot.config.tripwire import TripwireConfig, tripwire_problems
from quantbot.config.venues import VenueConfig, venue_problems
from quantbot.domain.errors import ConfigError
from quantbot.records.redact import redact_tree
from quantbot.signals.registry import SleeveDecl

PROFILES = ("conservative", "balanced", "aggressive")
JUMP_POLICIES = ("auto", "drop", "halt_symbol", "accept")
EXECUTION_MODES = ("paper", "shadow", "live")


@attrs.frozen
class RunConfig:
    trading_profile: str = setting("conservative")  # checked against PROFILES with a clear error
    state_dir: str = setting("state")
    runtime_dir: str = setting("runtime")
    status_interval_s: float = setting(5.0, gt=0)
    client_id_namespace: str = setting("quantbot")
    log_level: str = setting("INFO", choices=("TRACE", "DEBUG", "INFO", "WARNING", "ERROR"))
    shutdown_grace_s: float = setting(5.0, ge=0)


@attrs.frozen
class MarketConfig:
    # "venue": bars polled from the configured real venue (venue.name = ccxt or alpaca).
    source: str = setting("synthetic", choices=("synthetic", "csv", "venue"))
    symbols: list[str] = setting(["SIMA", "SIMB", "SIMC"])
    # Synthetic market: its pace, seconds of wall clock per bar.
    bar_interval_s: float = setting(1.0, gt=0)
    # Synthetic market: the market time one bar stands for, in seconds; volatility is
    # annualised by it, never by the pace (portfolio/annualise.py).
    bar_represents_s: float = setting(60.0, gt=0)
    # Synthetic market: its annual volatility; one bar moves about
    # annual_vol x sqrt(bar_represents_s / one year) (marketdata/synthetic.py calibrated).
    annual_vol: float = setting(0.2, gt=0, le=5)
    seed: int = setting(7, ge=0)
    spread_bps: float = setting(2.0, ge=0)
    csv_paths: list[str] = setting([])
    csv_pace: str = setting("fast", choices=("fast", "realtime"))
    csv_speed: float = setting(1.0, gt=0)


@attrs.frozen
class DataContractConfig:
    max_staleness_s: float = setting(10.0, gt=0)
    max_jump_fraction: float = setting(0.25, gt=0)
    # What a move beyond max_jump_fraction is (marketdata/contract.py): "auto" drops one
    # that looks like an unadjusted split (its open within split_tolerance of 1/n or n of the
    # last close, n = 2..10) and keeps any other as the market event it is; "drop" drops
    # every one; "halt_symbol" drops it and disables the symbol until `quantbot resume`;
    # "accept" keeps every one. Each is in the decision record.
    jump_policy: str = setting("auto", choices=JUMP_POLICIES)
    # The policy per market source ("csv" is also what replay reads), over jump_policy.
    jump_policy_by_source: dict[str, str] = setting({})
    split_tolerance: float = setting(0.025, gt=0, le=0.2)


@attrs.frozen
class InstrumentDefaults:
    tick_size: Decimal = setting(Decimal("0.01"), gt=0)
    lot_size: Decimal = setting(Decimal("1"), gt=0)
    min_notional: Decimal = setting(Decimal("1"), ge=0)


@attrs.frozen
class InstrumentSpec:
    """One symbol's market metadata (``[instruments."SYM"]``): what its orders are rounded to
    and checked against. ``source`` says where it came from (config, an instruments file
    written by `quantbot data download`, or inferred from the data by a replay)."""

    tick_size: Decimal = setting(Decimal("0.01"), gt=0)
    lot_size: Decimal = setting(Decimal("1"), gt=0)
    min_notional: Decimal = setting(Decimal("0"), ge=0)
    quote: str = setting("USD")
    shortable: bool = setting(True)
    source: str = setting("config")


@attrs.frozen
class ProfileParams:
    equity_fraction: float = setting(0.05, gt=0, le=1)
    max_position_usd: float = setting(5_000.0, gt=0)
    deadband: float = setting(0.2, ge=0, le=1)


@attrs.frozen
class Profiles:
    conservative: ProfileParams = setting(ProfileParams(0.5, 5_000.0, 0.2))
    balanced: ProfileParams = setting(ProfileParams(0.10, 15_000.0, 0.1))
    aggressive: ProfileParams = setting(ProfileParams(0.20, 40_000.0, 0.05))


@attrs.frozen
class RegimeComponents:
    """Each sleeve's weight in the net target, per profile, keyed by sleeve name
    (``config.sleeves`` says how the defaults fill in and what is checked)."""

    conservative: dict[str, float] = setting(default_weights("conservative"))
    balanced: dict[str, float] = setting(default_weights("balanced"))
    aggressive: dict[str, float] = setting(default_weights("aggressive"))


@attrs.frozen
class RecordsConfig:
    decisions_file: str = setting("decisions.jsonl")
    fsync_every_steps: int = setting(50, ge=1)
    # Rotate the decision records by UTC day (false: one file; replay uses one per replay).
    rotate_daily: bool = setting(True)
    # Delete rotated decision-record days older than this many days, at start and at each
    # rotation (0: keep every day).
    retention_days: int = setting(0, ge=0)
    # gzip each rotated day (decisions/decisions-YYYY-MM-DD.jsonl.gz), off the decision loop.
    compress_rotated: bool = setting(False)


@attrs.frozen
class Config:
    run: RunConfig = setting(RunConfig())
    market: MarketConfig = setting(MarketConfig())
    data_contract: DataContractConfig = setting(DataContractConfig())
    instrument_defaults: InstrumentDefaults = setting(InstrumentDefaults())
    # [instruments."SYM"] tables: per-symbol tick, lot, minimum notional, quote, shortable;
    # a symbol without one takes [instrument_defaults] in a paper run (the manifest says so)
    # and, in a replay, an instruments file beside the data or what its prices show.
    instruments: dict[str, InstrumentSpec] = setting({})
    # [signals.<name>] tables, in their order: the sleeves that run (config.sleeves).
    signals: dict[str, SleeveDecl] = setting(default_signals())
    profiles: Profiles = setting(Profiles())
    regime_components: RegimeComponents = setting(RegimeComponents())
    liquidity: Liquidity = setting(Liquidity())
    venue: VenueConfig = setting(VenueConfig())
    records: RecordsConfig = setting(RecordsConfig())
    breakers: BreakerConfig = setting(BreakerConfig())
    retry: RetryConfig = setting(RetryConfig())
    pretrade: PretradeConfig = setting(PretradeConfig())
    oms: OmsConfig = setting(OmsConfig())
    reconcile: ReconcileConfig = setting(ReconcileConfig())
    alerts: AlertsConfig = setting(AlertsConfig())
    control: ControlConfig = setting(ControlConfig())
    sizer: SizerConfig = setting(SizerConfig())
    policy: PolicyConfig = setting(PolicyConfig())
    governor: GovernorConfig = setting(GovernorConfig())
    limits: LimitsConfig = setting(LimitsConfig())
    daily_risk: DailyRiskConfig = setting(DailyRiskConfig())
    inbox: InboxConfig = setting(InboxConfig())
    tca: TcaConfig = setting(TcaConfig())
    watchdog: WatchdogConfig = setting(WatchdogConfig())
    orders: OrdersConfig = setting(OrdersConfig())
    golive: GoLiveConfig = setting(GoLiveConfig())
    notify: NotifyConfig = setting(NotifyConfig())
    drawdown: DrawdownConfig = setting(DrawdownConfig())
    dashboard: DashboardConfig = setting(DashboardConfig())
    quarantine: QuarantineConfig = setting(QuarantineConfig())
    cost_gate: CostGateConfig = setting(CostGateConfig())
    turnover: TurnoverConfig = setting(TurnoverConfig())
    learning: LearningConfig = setting(LearningConfig())
    allocation: AllocationConfig = setting(AllocationConfig())
    providers: ProvidersConfig = setting(ProvidersConfig())
    tripwire: TripwireConfig = setting(TripwireConfig())
    charter: CharterConfig = setting(CharterConfig())
    models: ModelsConfig = setting(ModelsConfig())
    session: SessionConfig = setting(SessionConfig())
    portfolio_risk: PortfolioRiskConfig = setting(PortfolioRiskConfig())
    governor_caps: GovernorCapsConfig = setting(GovernorCapsConfig())
    compaction: CompactionConfig = setting(CompactionConfig())

    @property
    def order_params(self) -> OrderParams:
        """The active profile's entry types, limit timeout, stop lock and ATR multiples."""
        return getattr(self.orders, self.run.trading_profile)

    @property
    def risk_params(self) -> RiskParams:
        """The active profile's sizer, policy, governor, limits and daily-risk values."""
        name = self.run.trading_profile
        return RiskParams(
            sizer=getattr(self.sizer, name),
            policy=getattr(self.policy, name),
            governor=getattr(self.governor, name),
            limits=getattr(self.limits, name),
            daily=getattr(self.daily_risk, name),
            cost_gate=getattr(self.cost_gate, name),
            turnover=getattr(self.turnover, name),
        )

    @property
    def profile(self) -> ProfileParams:
        return getattr(self.profiles, self.run.trading_profile)

    @property
    def components(self) -> Any:
        """The active profile's sleeve weights: a frozen record, a field per sleeve in
        declaration order (``attrs.asdict`` of it: name -> weight)."""
        weights = getattr(self.regime_components, self.run.trading_profile)
        return weights_record(weights, self.signals)

    @property
    def liquidity_thresholds(self) -> LiquidityThresholds:
        return getattr(self.liquidity, self.run.trading_profile)


@attrs.frozen
class LoadedConfig:
    """The resolved config plus where it came from (for the manifest and `config check`)."""

    config: Config
    path: Path | None
    env_keys: dict[str, str]  # "section.key" -> environment variable name
    hash: str
    # Limits the file (and environment) left to their defaults (``config.limits``).
    defaulted_limits: tuple[str, ...] = ()

    def plain(self) -> dict[str, Any]:
        return loader.to_plain(self.config)


def load_config(
    path: Path | None,
    *,
    environ: Mapping[str, str] | None = None,
    trading_profile: str | None = None,
    execution_mode: str | None = None,
) -> LoadedConfig:
    """Read ``path`` (or defaults when None), apply environment overrides, validate all of it.

    ``trading_profile`` is the CLI's override; like the file's value it must name a profile.
    With ``execution_mode="live"`` every limit must be stated (``config.limits``).
    """
    environ = os.environ if environ is None else environ
    data, text = loader.read_toml(path) if path is not None else ({}, "")
    overrides = loader.env_overrides(Config, environ)
    data = fill_in(data, overrides, PROFILES)
    merged = loader.merge(data, {p: v for p, (_, v) in overrides.items()})
    if trading_profile is not None:
        run = merged.setdefault("run", {})
        if isinstance(run, dict):  # a `run` that is not a table is reported by build() below
            run["trading_profile"] = trading_profile
    env_names = {p: name for p, (name, _) in overrides.items()}
    locate = loader.locator(path, text, env_names)
    if trading_profile is not None:
        cli = ("run", "trading_profile")
        base_locate = locate
        locate = lambda kp: "command line --trading-mode" if kp == cli else base_locate(kp)  # noqa: E731
    config = loader.build(Config, merged, locate)
    # A sleeve's file is relative to the config file's directory.
    origin = path.resolve().parent if path is not None else Path.cwd()
    config = attrs.evolve(config, signals=with_origin(config.signals, origin))
    _check_consistency(config, locate)
    defaulted = defaulted_limits(merged, config.run.trading_profile)
    require_stated(defaulted, path, execution_mode or "")
    plain = loader.to_plain(config)
    return LoadedConfig(
        config=config,
        path=path,
        env_keys={".".join(p): name for p, name in env_names.items()},
        hash=config_hash(plain),
        defaulted_limits=tuple(defaulted),
    )


Problem = tuple[tuple[str, ...], Any, str]


def _check_consistency(config: Config, locate: loader.Locator) -> None:
    """Second pass: rules that involve more than one key. The first problem is reported."""
    for key_path, value, problem in _problems(config):
        raise ConfigError(f"{locate(key_path)}: {'.'.join(key_path)} = {value!r}: {problem}")


def _problems(config: Config) -> Iterator[Problem]:
    profile = config.run.trading_profile
    if profile not in PROFILES:
        yield (
            ("run", "trading_profile"),
            profile,
            f"unknown trading profile (use one of {', '.join(PROFILES)})",
        )
    yield from _market_problems(config)
    yield from risk_problems(config, PROFILES)
    yield from liquidity_problems(config.liquidity, PROFILES)
    yield from watchdog_problems(config.watchdog)
    yield from tca_problems(config.tca)
    yield from notify_problems(config.notify)
    yield from sleeves.problems(config.signals, config.regime_components, PROFILES)
    yield from orders_problems(config.orders, list(config.signals), PROFILES)
    yield from quarantine_problems(config.quarantine, config.signals)
    yield from costs_problems(config, PROFILES)
    yield from allocation_problems(config.allocation, config.signals)
    yield from tripwire_problems(config.tripwire, config.signals)
    yield from charter_problems(config.charter)
    yield from session_problems(config)
    yield from portfolio_risk_problems(config)
    yield from providers_problems(config)


def _market_problems(config: Config) -> Iterator[Problem]:
    market, pre = config.market, config.pretrade
    yield from venue_problems(config)
    for source, policy in config.data_contract.jump_policy_by_source.items():
        where = ("data_contract", "jump_policy_by_source", source)
        if source not in ("synthetic", "csv", "venue"):
            yield where, policy, "source must be one of synthetic, csv, venue"
        if policy not in JUMP_POLICIES:
            yield where, policy, f"must be one of {', '.join(JUMP_POLICIES)}"
    if not market.symbols:
        yield ("market", "symbols"), market.symbols, "must list at least one symbol"
    if len(set(market.symbols)) != len(market.symbols):
        yield ("market", "symbols"), market.symbols, "lists a symbol twice"
    if market.source == "csv" and not market.csv_paths:
        yield ("market", "csv_paths"), market.csv_paths, "must name files when source = csv"
    for key, listed in (
        ("canary_symbols", pre.canary_symbols),
        ("allowed_symbols", pre.allowed_symbols),
    ):
        stray = [s for s in listed if s not in market.symbols]
        if stray:
            yield ("pretrade", key), listed, f"{stray} not in market.symbols"
    if pre.allowed_symbols and not set(pre.canary_symbols) <= set(pre.allowed_symbols):
        yield (
            ("pretrade", "canary_symbols"),
            pre.canary_symbols,
            "a canary symbol must also be in pretrade.allowed_symbols",
        )


def config_hash(plain: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON (sorted keys, no whitespace) of the resolved config."""
    return hashlib.sha256(orjson.dumps(plain, option=orjson.OPT_SORT_KEYS)).hexdigest()


def redacted(plain: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict:
    """The resolved config for printing and manifests, with credential presence but no values.

    The config only names environment variables; this adds whether each is set, never what
    it holds, so an operator can see a missing key without the key ever being written. URLs
    lose their credentials, query strings and webhook tokens (``records.redact``); the
    config's hash is of the real values, computed in ``load_config``, not of this.
    """
    environ = os.environ if environ is None else environ
    result = redact_tree(loader.to_plain(dict(plain)))
    for creds in result.get("venue", {}).values():
        if isinstance(creds, dict) and "key_env" in creds:
            for field in ("key_env", "secret_env"):
                name = creds[field]
                creds[f"{field}_present"] = bool(name) and bool(environ.get(name))
    return result


def read_secret(env_name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The one way to get a secret: from the environment variable the config names."""
    environ = os.environ if environ is None else environ
    return environ.get(env_name) or None if env_name else None
