"""AI sizer: proposes size (USD margin), leverage and an exit ("harvest") policy from the
signal confidence and a volatility factor.

The sizer only proposes. Whether the proposal is used (``live``) or only recorded beside the
base size (``shadow``), and the fail-graceful fallback to the base size when ``propose``
raises (``SIZER_FAILED_FALLBACK``), live in the caller. That is why bad input raises
``ValueError`` naming the field here instead of returning something half-valid.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from quantbot.config.risk import HarvestPreset, HarvestPresets, SizerParams
from quantbot.domain.harvest import AUTO, HarvestSpec
from quantbot.domain.reasons import Reason, ReasonCode, reason

__all__ = ["HARVEST_POLICIES", "AISizer", "SizerProposal"]

SCALPER = "SCALPER"
SWING = "SWING"
TREND_RUNNER = "TREND_RUNNER"
HARVEST_POLICIES = (SCALPER, SWING, TREND_RUNNER)

_INF = math.inf
MODEL = "model"
INTENT = "intent"
CONFIG = "config"  # [sizer] ai_harvest_policy chose it (a preset name or the seed's table)


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def _finite_at_least(name: str, value: float, low: float) -> float:
    if not (math.isfinite(value) and value >= low):
        raise ValueError(f"{name} must be finite and >= {low}, got {value!r}")
    return value


@attrs.define(slots=True)  # built on every bar past the deadband: not frozen (issue 23)
class SizerProposal:
    """What the sizer proposes for one entry.

    ``size_usd`` is the margin (capital committed), ``notional_usd`` = size x leverage.
    ``source`` says per field (size, leverage, harvest_policy) whether the sizer's own model
    or an outside TradeIntent's hint chose it; ``clamps`` lists every cut applied.
    """

    size_usd: float
    leverage: float
    notional_usd: float
    harvest_policy: str
    harvest: HarvestPreset
    vol_factor: float
    vol_known: bool
    base_pct: float
    source: dict[str, str]
    clamps: list[Reason] = attrs.field(factory=list)
    # The record's harvest, source and clamps parts when the sizer already built them for an
    # earlier proposal of the same confidence (shared by those records, never mutated); None:
    # built from the fields.
    shown: tuple[dict[str, Any], dict[str, str], list[dict[str, Any]]] | None = attrs.field(
        default=None, eq=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        # The four field checks in one call, tested inline: a proposal is built on every bar
        # past the deadband, and four validators cost four calls. In field order, as attrs
        # validators ran; ``_finite_at_least`` is only reached to raise.
        # Chained comparisons are False for NaN: ``low <= x < inf`` is "finite and >= low".
        if not 0.0 <= self.size_usd < _INF:
            _finite_at_least("size_usd", self.size_usd, 0.0)
        if not 1.0 <= self.leverage < _INF:
            _finite_at_least("leverage", self.leverage, 1.0)
        if not 0.0 <= self.notional_usd < _INF:
            _finite_at_least("notional_usd", self.notional_usd, 0.0)
        if self.harvest_policy not in HARVEST_POLICIES:
            raise ValueError(
                f"'harvest_policy' must be in {HARVEST_POLICIES!r} (got {self.harvest_policy!r})"
            )

    def to_record(self) -> dict[str, Any]:
        """JSON-ready dict for the decision record."""
        shown = self.shown
        if shown is None:
            shown = _shown(self.harvest, self.source, self.clamps)
        return {
            "size_usd": self.size_usd,
            "leverage": self.leverage,
            "notional_usd": self.notional_usd,
            "harvest_policy": self.harvest_policy,
            "harvest": shown[0],
            "vol_factor": self.vol_factor,
            "vol_known": self.vol_known,
            "base_pct": self.base_pct,
            "source": shown[1],
            "clamps": shown[2],
        }


def _shown(
    harvest: HarvestPreset, source: dict[str, str], clamps: list[Reason]
) -> tuple[dict[str, Any], dict[str, str], list[dict[str, Any]]]:
    return _harvest_record(harvest), dict(source), [c.to_record() for c in clamps]


@attrs.define(slots=True)
class _Part:
    """What a proposal takes from the confidence, the venue's cap and the hints, not from
    equity or volatility: kept from one hint-free proposal to the next while the confidence
    is the same (a sleeve's confidence seldom moves from bar to bar)."""

    confidence: float
    venue_max: float
    base_pct: float
    leverage: float
    policy: str
    harvest: HarvestPreset
    source: dict[str, str]
    clamps: list[Reason]
    shown: tuple[dict[str, Any], dict[str, str], list[dict[str, Any]]] | None = None


def _harvest_record(preset: HarvestPreset) -> dict[str, Any]:
    # What attrs.asdict(preset) gives, spelled out: this runs once per decision record and
    # costs a sixth of asdict. A unit test keeps the two equal if HarvestPreset gains a field.
    return {
        "take_profit_pct": preset.take_profit_pct,
        "stop_loss_pct": preset.stop_loss_pct,
        "trailing_stop_pct": preset.trailing_stop_pct,
        "max_hold_bars": preset.max_hold_bars,
    }


def _check_params(params: SizerParams) -> None:
    # The config loader checks these pairs too; a sizer built by hand (tests, replay tools)
    # must not silently invert a range and size from the wrong end.
    for low, high in (
        ("base_min_pct", "base_max_pct"),
        ("leverage_min", "leverage_max"),
        ("vol_factor_min", "vol_factor_max"),
        ("swing_min_confidence", "trend_runner_min_confidence"),
    ):
        if getattr(params, low) > getattr(params, high):
            raise ValueError(f"sizer params: {low} must not be above {high}")


@attrs.frozen(slots=True)
class AISizer:
    """Proposes size, leverage and harvest policy (see ``propose``)."""

    params: SizerParams = attrs.field()
    harvest: HarvestPresets = attrs.field()
    # [sizer] ai_harvest_policy: AUTO (by confidence), a preset, or a preset with its exits
    # replaced (quantbot.domain.harvest).
    policy: HarvestSpec = attrs.field(default=HarvestSpec())
    # Derived once from ``policy`` and ``harvest`` (both frozen): the source a proposal
    # without a hint names, and each preset with the config's exits applied. ``propose``
    # runs on every bar past the deadband; these were rebuilt there on every call.
    _config_source: str = attrs.field(init=False, eq=False, repr=False)
    _applied: dict[str, HarvestPreset] = attrs.field(init=False, eq=False, repr=False)
    # The last hint-free proposal's _Part (one slot, replaced when the confidence moves).
    _last: list[_Part | None] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        _check_params(self.params)
        spec = self.policy
        source = CONFIG if spec.mode != AUTO or spec.overrides else MODEL
        applied = {name: spec.apply(self._preset(name)) for name in HARVEST_POLICIES}
        object.__setattr__(self, "_config_source", source)
        object.__setattr__(self, "_applied", applied)
        object.__setattr__(self, "_last", [None])

    def propose(
        self,
        *,
        confidence: float,
        equity: float,
        annual_vol: float | None,
        venue_max_leverage: float,
        hint_size_usd: float | None = None,
        hint_leverage: float | None = None,
        hint_harvest_policy: str | HarvestSpec | None = None,
    ) -> SizerProposal:
        """Propose one entry's size, leverage and harvest policy.

        - size = max(equity, 0) x base_pct x vol_factor, with
          base_pct = base_min_pct + (base_max_pct - base_min_pct) x confidence and
          vol_factor = target_annual_vol / annual_vol within [vol_factor_min, vol_factor_max]
          (``annual_vol=None``, not yet known: vol_factor_min, the careful end);
        - leverage = leverage_min + (leverage_max - leverage_min) x confidence, cut to
          ``venue_max_leverage`` (spot: 1) with ``SIZER_LEVERAGE_VENUE_CAP``;
        - harvest: TREND_RUNNER from trend_runner_min_confidence, SWING from
          swing_min_confidence, else SCALPER; unless ``policy`` (the config's
          ``ai_harvest_policy``) or the hint names a preset, and with the exits either
          replaces (the seed's table) in place of the preset's.

        A hint (from an outside model's TradeIntent) replaces the model's value for that field;
        the venue cap still applies to a hinted leverage. Raises ``ValueError`` naming the field
        for non-finite or out-of-range input.
        """
        # Comparisons, not calls (every bar past the deadband): a chained comparison is
        # False for NaN, and ``< inf`` excludes infinity.
        if not 0.0 <= confidence <= 1.0:
            raise ValueError(f"confidence must be finite and in [0, 1], got {confidence!r}")
        if not -_INF < equity < _INF:
            _finite("equity", equity)
        if not 1.0 <= venue_max_leverage < _INF:
            _finite_at_least("venue_max_leverage", venue_max_leverage, 1.0)
        vol_factor, vol_known = self._vol_factor(annual_vol)
        if hint_size_usd is None and hint_leverage is None and hint_harvest_policy is None:
            part = self._last[0]
            if (
                part is None
                or part.confidence != confidence
                or part.venue_max != venue_max_leverage
            ):
                part = self._part(confidence, venue_max_leverage, None, None)
                part.shown = _shown(part.harvest, part.source, part.clamps)
                self._last[0] = part
            held = 0.0 if equity < 0.0 else equity  # max(equity, 0.0): -0.0 stays -0.0
            size = held * part.base_pct * vol_factor
        else:
            if hint_size_usd is not None:
                size = _finite_at_least("hint_size_usd", hint_size_usd, 0.0)
            part = self._part(confidence, venue_max_leverage, hint_leverage, hint_harvest_policy)
            if hint_size_usd is None:
                size = max(equity, 0.0) * part.base_pct * vol_factor
            else:
                part.source["size"] = INTENT
        return SizerProposal(
            size_usd=size,
            leverage=part.leverage,
            notional_usd=size * part.leverage,
            harvest_policy=part.policy,
            harvest=part.harvest,
            vol_factor=vol_factor,
            vol_known=vol_known,
            base_pct=part.base_pct,
            source=part.source,
            clamps=part.clamps,
            shown=part.shown,
        )

    def _part(
        self,
        confidence: float,
        venue_max_leverage: float,
        hint_leverage: float | None,
        hint_harvest_policy: str | HarvestSpec | None,
    ) -> _Part:
        p = self.params
        base_pct = p.base_min_pct + (p.base_max_pct - p.base_min_pct) * confidence
        source = {"size": MODEL, "leverage": MODEL, "harvest_policy": MODEL}
        leverage = p.leverage_min + (p.leverage_max - p.leverage_min) * confidence
        if hint_leverage is not None:
            leverage = _finite_at_least("hint_leverage", hint_leverage, 1.0)
            source["leverage"] = INTENT
        clamps: list[Reason] = []
        if leverage > venue_max_leverage:
            clamps.append(
                reason(
                    ReasonCode.SIZER_LEVERAGE_VENUE_CAP,
                    proposed=leverage,
                    venue_max=venue_max_leverage,
                    source=source["leverage"],
                )
            )
            leverage = venue_max_leverage
        if hint_harvest_policy is None:  # the config's policy and presets
            source["harvest_policy"] = self._config_source
            spec = self.policy
            policy = spec.mode if spec.mode != AUTO else self._harvest_policy(confidence)
            harvest = self._applied[policy]
        else:
            spec = _known_policy(hint_harvest_policy)
            source["harvest_policy"] = INTENT
            policy = spec.mode if spec.mode != AUTO else self._harvest_policy(confidence)
            harvest = spec.apply(self._preset(policy))
        return _Part(confidence, venue_max_leverage, base_pct, leverage, policy, harvest,
                     source, clamps)  # fmt: skip

    def _vol_factor(self, annual_vol: float | None) -> tuple[float, bool]:
        p = self.params
        if annual_vol is None:
            # Until volatility is known, size from the careful end of the range.
            return p.vol_factor_min, False
        if not 0.0 < annual_vol < _INF:
            raise ValueError(f"annual_vol must be finite and > 0 (or None), got {annual_vol!r}")
        raw = p.target_annual_vol / annual_vol
        low, high = p.vol_factor_min, p.vol_factor_max
        factor = low if low > raw else raw  # min(max(raw, low), high), as comparisons
        return (high if high < factor else factor), True

    def _harvest_policy(self, confidence: float) -> str:
        if confidence >= self.params.trend_runner_min_confidence:
            return TREND_RUNNER
        if confidence >= self.params.swing_min_confidence:
            return SWING
        return SCALPER

    def _preset(self, policy: str) -> HarvestPreset:
        # HARVEST_POLICIES names map one-to-one onto HarvestPresets' attributes.
        return getattr(self.harvest, policy.lower())


def _known_policy(hint: str | HarvestSpec) -> HarvestSpec:
    # Intents are written by people and other programs: "swing" means SWING.
    if isinstance(hint, HarvestSpec):
        return hint
    name = hint.strip().upper() if isinstance(hint, str) else hint
    if name not in HARVEST_POLICIES:
        raise ValueError(
            f"hint_harvest_policy must be one of {', '.join(HARVEST_POLICIES)}, got {hint!r}"
        )
    return HarvestSpec(mode=name)
