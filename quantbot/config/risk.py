"""Config sections for decision-side risk: AI sizer, execution policy, risk governor,
portfolio limits, daily risk guard and the TradeIntent inbox.

Part of the one tree in ``quantbot.config.schema``. Every stage has one parameter table per trading
profile (``conservative`` strictest); ``Config.risk_params`` resolves the active profile's
values, which the manifest and each decision record carry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from quantbot.config.costs import CostGateParams, TurnoverParams
from quantbot.config.harvest import HarvestPolicy
from quantbot.config.loader import setting
from quantbot.signals.registry import INBOX_KIND

REGIMES = ("low", "normal", "high")

Problem = tuple[tuple[str, ...], Any, str]


# -- AI sizer ---------------------------------------------------------------------------------


@attrs.frozen
class HarvestPreset:
    """Exit parameters of one harvest policy (fractions of the entry price)."""

    take_profit_pct: float = setting(0.02, gt=0, le=1)
    stop_loss_pct: float = setting(0.01, gt=0, le=1)
    trailing_stop_pct: float = setting(0.0, ge=0, le=1)
    max_hold_bars: int = setting(500, ge=1)


@attrs.frozen
class HarvestPresets:
    scalper: HarvestPreset = setting(HarvestPreset(0.004, 0.003, 0.0, 30))
    swing: HarvestPreset = setting(HarvestPreset(0.02, 0.01, 0.01, 500))
    trend_runner: HarvestPreset = setting(HarvestPreset(0.08, 0.02, 0.03, 5000))


@attrs.frozen
class SizerParams:
    """Size = equity x (base_min_pct + (base_max_pct - base_min_pct) x confidence) x vol factor;
    leverage = leverage_min + (leverage_max - leverage_min) x confidence, never above what the
    venue and instrument allow."""

    base_min_pct: float = setting(0.005, gt=0, le=1)
    base_max_pct: float = setting(0.02, gt=0, le=1)
    leverage_min: float = setting(5.0, ge=1)
    leverage_max: float = setting(80.0, ge=1)
    target_annual_vol: float = setting(0.30, gt=0)
    vol_factor_min: float = setting(0.5, gt=0)
    vol_factor_max: float = setting(1.5, gt=0)
    swing_min_confidence: float = setting(0.4, ge=0, le=1)
    trend_runner_min_confidence: float = setting(0.75, ge=0, le=1)


@attrs.frozen
class SizerConfig:
    mode: str = setting("shadow", choices=("shadow", "live"))
    conservative: SizerParams = setting(
        SizerParams(0.005, 0.01, 5.0, 20.0, 0.20, 0.5, 1.0, 0.5, 0.85)
    )
    balanced: SizerParams = setting(SizerParams(0.005, 0.015, 5.0, 50.0, 0.30, 0.5, 1.25, 0.4, 0.8))
    aggressive: SizerParams = setting(SizerParams(0.005, 0.02, 5.0, 80.0, 0.40, 0.5, 1.5, 0.3, 0.7))
    harvest: HarvestPresets = setting(HarvestPresets())
    # The harvest policy of AI-sized entries: "AUTO" (by confidence), a preset name, or the
    # seed's table {mode, stop_loss, take_profit, trailing, max_hold} (config/harvest.py).
    ai_harvest_policy: HarvestPolicy = setting(HarvestPolicy())


# -- Execution policy -------------------------------------------------------------------------


@attrs.frozen
class PolicyParams:
    confidence_floor: float = setting(0.3, ge=0, le=1)
    global_cooldown_s: float = setting(0.0, ge=0)
    symbol_cooldown_s: float = setting(30.0, ge=0)
    max_total_positions: int = setting(3, ge=1)
    max_total_exposure_pct: float = setting(0.3, gt=0)
    scale_in_confidence_delta: float = setting(0.1, ge=0, le=1)
    max_scale_ins: int = setting(1, ge=0)
    max_symbol_exposure_pct: float = setting(0.1, gt=0)
    max_positions_per_symbol: int = setting(2, ge=1)
    max_positions_per_regime: dict[str, int] = setting({"low": 3, "normal": 3, "high": 1})
    capital_fraction: float = setting(0.2, gt=0, le=1)
    confidence_base: float = setting(0.7, ge=0, le=1)
    confidence_slope: float = setting(0.3, ge=0, le=1)
    min_order_usd: float = setting(10.0, ge=0)
    risk_score: dict[str, float] = setting({"low": 1.0, "normal": 1.0, "high": 0.5})


@attrs.frozen
class PolicyConfig:
    # Realised annual volatility below low_vol is regime "low", above high_vol "high".
    low_vol: float = setting(0.15, ge=0)
    high_vol: float = setting(0.60, gt=0)
    conservative: PolicyParams = setting(PolicyParams())
    balanced: PolicyParams = setting(
        PolicyParams(
            0.2, 0.0, 15.0, 5, 0.6, 0.05, 2, 0.2, 3,
            {"low": 5, "normal": 5, "high": 2}, 0.2, 0.7, 0.3, 10.0,
            {"low": 1.0, "normal": 1.0, "high": 0.6},
        )
    )  # fmt: skip
    aggressive: PolicyParams = setting(
        PolicyParams(
            0.1, 0.0, 5.0, 10, 1.0, 0.05, 3, 0.4, 4,
            {"low": 10, "normal": 10, "high": 4}, 0.2, 0.7, 0.3, 10.0,
            {"low": 1.0, "normal": 1.0, "high": 0.75},
        )
    )  # fmt: skip


# -- Risk governor ----------------------------------------------------------------------------


@attrs.frozen
class GovernorParams:
    """Bounds on one entry: size (margin, USD), leverage, notional = size x leverage."""

    min_order_usd: float = setting(10.0, ge=0)
    max_position_usd: float = setting(5_000.0, gt=0)
    min_leverage: float = setting(1.0, ge=1)
    max_leverage: float = setting(20.0, ge=1)
    max_notional_usd: float = setting(10_000.0, gt=0)
    confidence_floor: float = setting(0.0, ge=0, le=1)  # 0: off
    risk_budget_usd: float = setting(0.0, ge=0)  # 0: off; loss at the stop must fit in it


@attrs.frozen
class GovernorConfig:
    # If the governor itself fails, the order is rejected (GOVERNOR_ERROR) unless this is true.
    fail_open: bool = setting(False)
    conservative: GovernorParams = setting(GovernorParams())
    balanced: GovernorParams = setting(GovernorParams(10.0, 15_000.0, 1.0, 50.0, 30_000.0))
    aggressive: GovernorParams = setting(GovernorParams(10.0, 40_000.0, 1.0, 80.0, 80_000.0))


# -- Portfolio limits -------------------------------------------------------------------------


@attrs.frozen
class LimitsParams:
    target_annual_vol: float = setting(0.15, gt=0)
    vol_min_scale: float = setting(0.25, gt=0)
    vol_max_scale: float = setting(1.0, gt=0)
    max_symbol_pct: float = setting(0.10, gt=0)
    max_cluster_pct: float = setting(0.25, gt=0)
    corr_threshold: float = setting(0.8, ge=0, le=1)
    max_corr_group_pct: float = setting(0.20, gt=0)


@attrs.frozen
class LimitsConfig:
    vol_lookback: int = setting(30, ge=2)
    corr_lookback: int = setting(60, ge=3)
    # Bars per year for annualising volatility; 0 infers it from the spacing of the bars.
    periods_per_year: float = setting(0.0, ge=0)
    # Named groups of symbols whose gross exposure is capped together (max_cluster_pct).
    clusters: dict[str, list[str]] = setting({})
    conservative: LimitsParams = setting(LimitsParams())
    balanced: LimitsParams = setting(LimitsParams(0.25, 0.25, 1.0, 0.20, 0.40, 0.8, 0.35))
    aggressive: LimitsParams = setting(LimitsParams(0.40, 0.5, 1.5, 0.40, 0.80, 0.85, 0.70))


# -- Daily risk guard -------------------------------------------------------------------------


DAILY_ACTIONS = ("block", "notify")


@attrs.frozen
class DailyPolicy:
    """One policy (GLOBAL, or a sleeve's), in USD. Loss is today's realised loss; exposure is
    the notional opened today (what fills that add to a position added, exits not counted)
    plus what orders in flight have reserved; open risk is the notional reserved and held
    times the harvest policy's stop-loss fraction (what is lost if every stop is hit).

    ``enabled = false`` is the policy disabled: the new risk it covers is refused
    (``DAILY_POLICY_DISABLED``). ``action = "notify"`` (the seed's NOTIFY) records a limit
    it would break (``DAILY_RISK_NOTIFY``, with the limit and the value) and lets the order
    go; ``"block"`` refuses it."""

    max_daily_loss_usd: float = setting(1_000.0, gt=0)
    max_daily_exposure_usd: float = setting(30_000.0, gt=0)
    max_open_risk_usd: float = setting(1_000.0, gt=0)
    enabled: bool = setting(True)
    action: str = setting("block", choices=DAILY_ACTIONS)


@attrs.frozen
class SleevePolicy:
    """One sleeve's own policy (``[daily_risk.<profile>.sleeves.<name>]``): each key it leaves
    out is ``per_sleeve``'s. Bounds are checked with the cross-key rules (``risk_problems``)."""

    max_daily_loss_usd: float | None = setting(None)
    max_daily_exposure_usd: float | None = setting(None)
    max_open_risk_usd: float | None = setting(None)
    enabled: bool | None = setting(None)
    action: str | None = setting(None)

    def over(self, shared: DailyPolicy) -> DailyPolicy:
        """This sleeve's policy: its own keys, ``shared``'s for the rest."""
        given = {k: v for k, v in attrs.asdict(self).items() if v is not None}
        return attrs.evolve(shared, **given)


@attrs.frozen
class DailyProfile:
    total: DailyPolicy = setting(DailyPolicy())  # the GLOBAL policy
    per_sleeve: DailyPolicy = setting(DailyPolicy(600.0, 20_000.0, 600.0))  # each sleeve's
    sleeves: dict[str, SleevePolicy] = setting({})  # a sleeve's own, over per_sleeve

    def sleeve_policies(self) -> dict[str, DailyPolicy]:
        """The resolved policy of every sleeve that has its own (others: ``per_sleeve``)."""
        return {name: own.over(self.per_sleeve) for name, own in self.sleeves.items()}


@attrs.frozen
class DailyRiskConfig:
    # The trading day rolls at this UTC time ("HH:MM"): realised loss starts again from 0.
    roll_time_utc: str = setting("00:00")
    ledger_file: str = setting("daily_risk.jsonl")
    conservative: DailyProfile = setting(DailyProfile())
    balanced: DailyProfile = setting(
        DailyProfile(
            DailyPolicy(3_000.0, 90_000.0, 4_000.0), DailyPolicy(2_000.0, 60_000.0, 2_500.0)
        )
    )
    aggressive: DailyProfile = setting(
        DailyProfile(
            DailyPolicy(8_000.0, 200_000.0, 15_000.0), DailyPolicy(5_000.0, 120_000.0, 9_000.0)
        )
    )


# -- TradeIntent inbox ------------------------------------------------------------------------


@attrs.frozen
class InboxConfig:
    enabled: bool = setting(True)
    # JSON lines files dropped here (under run.runtime_dir) are read as TradeIntents.
    directory: str = setting("inbox")
    poll_interval_s: float = setting(1.0, gt=0)
    # An intent counts for this many seconds after it is read, then its sleeve goes quiet.
    ttl_s: float = setting(300.0, gt=0)
    max_line_bytes: int = setting(65_536, ge=256)


@attrs.frozen
class RiskParams:
    """The active profile's values of every decision-side stage (the resolved snapshot)."""

    sizer: SizerParams
    policy: PolicyParams
    governor: GovernorParams
    limits: LimitsParams
    daily: DailyProfile
    cost_gate: CostGateParams
    turnover: TurnoverParams


# -- cross-key rules --------------------------------------------------------------------------


def _ordered(
    section: tuple[str, ...], low_key: str, low: float, high_key: str, high: float
) -> Iterator[Problem]:
    if low > high:
        yield (*section, low_key), low, f"must not be above {'.'.join(section)}.{high_key} ({high})"


def risk_problems(config: Any, profiles: tuple[str, ...]) -> Iterator[Problem]:
    """Cross-key rules of these sections (second pass of ``quantbot.config.schema``)."""
    for name in profiles:
        sz = getattr(config.sizer, name)
        sec = ("sizer", name)
        yield from _ordered(sec, "base_min_pct", sz.base_min_pct, "base_max_pct", sz.base_max_pct)
        yield from _ordered(sec, "leverage_min", sz.leverage_min, "leverage_max", sz.leverage_max)
        yield from _ordered(
            sec, "vol_factor_min", sz.vol_factor_min, "vol_factor_max", sz.vol_factor_max
        )
        yield from _ordered(
            sec,
            "swing_min_confidence",
            sz.swing_min_confidence,
            "trend_runner_min_confidence",
            sz.trend_runner_min_confidence,
        )
        gov = getattr(config.governor, name)
        sec = ("governor", name)
        yield from _ordered(sec, "min_leverage", gov.min_leverage, "max_leverage", gov.max_leverage)
        yield from _ordered(
            sec, "min_order_usd", gov.min_order_usd, "max_position_usd", gov.max_position_usd
        )
        lim = getattr(config.limits, name)
        sec = ("limits", name)
        yield from _ordered(
            sec, "vol_min_scale", lim.vol_min_scale, "vol_max_scale", lim.vol_max_scale
        )
        pol = getattr(config.policy, name)
        for key in ("max_positions_per_regime", "risk_score"):
            table = getattr(pol, key)
            if sorted(table) != sorted(REGIMES):
                yield (
                    ("policy", name, key),
                    table,
                    f"must have exactly the regimes {', '.join(REGIMES)}",
                )
    yield from _ordered(
        ("policy",), "low_vol", config.policy.low_vol, "high_vol", config.policy.high_vol
    )
    for cluster, members in config.limits.clusters.items():
        stray = [s for s in members if s not in config.market.symbols]
        if stray:
            yield ("limits", "clusters", cluster), members, f"{stray} not in market.symbols"
    yield from _daily_problems(config, profiles)
    roll = config.daily_risk.roll_time_utc
    if parse_hhmm(roll) is None:
        yield ("daily_risk", "roll_time_utc"), roll, 'must be "HH:MM" (UTC, 00:00-23:59)'


def _daily_problems(config: Any, profiles: tuple[str, ...]) -> Iterator[Problem]:
    """A sleeve's own daily policy: a declared sleeve (or the inbox's), values in bounds."""
    known = [*config.signals, INBOX_KIND]
    for name in profiles:
        for sleeve, own in getattr(config.daily_risk, name).sleeves.items():
            sec = ("daily_risk", name, "sleeves", sleeve)
            if sleeve not in known:
                yield sec, sleeve, f"names no sleeve (sleeves: {', '.join(known)})"
            for key in ("max_daily_loss_usd", "max_daily_exposure_usd", "max_open_risk_usd"):
                value = getattr(own, key)
                if value is not None and not value > 0:
                    yield (*sec, key), value, "must be > 0"
            if own.action is not None and own.action not in DAILY_ACTIONS:
                yield (*sec, "action"), own.action, f"must be one of {', '.join(DAILY_ACTIONS)}"


def parse_hhmm(text: str) -> int | None:
    """Minutes after midnight for "HH:MM", or None when it is not a valid time of day."""
    parts = text.split(":")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        return None
    hours, minutes = int(parts[0]), int(parts[1])
    if hours > 23 or minutes > 59:
        return None
    return hours * 60 + minutes
