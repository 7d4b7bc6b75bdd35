"""Portfolio limits: after netting and before the execution policy, shape one symbol's signed
target notional against the rest of the book.

In order: volatility targeting scales the target toward ``target_annual_vol`` (within
``[vol_min_scale, vol_max_scale]``, VOL_TARGET_SCALE); the portfolio's volatility targeting
scales it by the factor that brings the whole book to the same target (``portvol``,
PORTFOLIO_VOL_SCALE); concentration caps per symbol (a share of equity, RISK_CAP_PORTFOLIO, or
of the gross exposure, CONCENTRATION_GROSS_CAP, or both: ``[portfolio_risk] concentration``)
and per configured cluster cut it (RISK_CAP_PORTFOLIO); and a cap on the gross exposure of the
group of symbols highly correlated with this one cuts it again (CORR_CLUSTER_CAP). Caps only
shrink the target toward 0 and never flip its sign; each step that changes it leaves a reason
with the factor it applied.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from quantbot.config.portfolio_risk import PortfolioRiskConfig
from quantbot.config.risk import LimitsParams
from quantbot.domain.errors import InvariantViolation
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.portfolio.portvol import PortfolioVolTarget
from quantbot.portfolio.returns import MarketStats

_INF = math.inf


@attrs.define(slots=True)  # built on every bar past the deadband: not frozen (issue 23)
class LimitsResult:
    """The target after the limits (signed USD notional), the input it came from, every
    reason in the order applied, and JSON-ready detail (realised vol, scale, caps, groups)."""

    target_notional_usd: float
    input_notional_usd: float
    applied: list[Reason] = attrs.field(factory=list)
    detail: dict[str, Any] = attrs.field(factory=dict)

    def to_record(self) -> dict[str, Any]:
        """The dict that lands in the decision record."""
        return {
            "verdict": "clamp" if self.applied else "pass",
            "input_notional_usd": self.input_notional_usd,
            "target_notional_usd": self.target_notional_usd,
            "applied": [r.to_record() for r in self.applied] if self.applied else [],
            "detail": self.detail,
        }


class _Trace:
    """One ``apply`` call: its symbol and equity, the sign every step keeps, and the reasons
    and detail so far."""

    __slots__ = ("applied", "detail", "equity", "sign", "symbol")

    def __init__(self, symbol: str, equity: float, sign: float) -> None:
        self.symbol = symbol
        self.equity = equity
        self.sign = sign
        self.applied: list[Reason] = []
        self.detail: dict[str, Any] = {}

    def signed(self, magnitude: float) -> float:
        return self.sign * magnitude if magnitude else 0.0  # never a -0.0 in a record

    def cap(self, code: ReasonCode, magnitude: float, room: float, **context: Any) -> float:
        """``magnitude`` cut to ``room`` (never below 0), recording the cut when there is one."""
        if magnitude <= room or magnitude == 0.0:  # nothing left to cut
            return magnitude
        after = max(room, 0.0)
        self.applied.append(
            reason(
                code,
                **context,
                before=self.signed(magnitude),
                after=self.signed(after),
                factor=after / magnitude,
            )
        )
        return after


class PortfolioLimits:
    """Volatility targeting and concentration caps for one trading profile's ``params``.

    ``clusters`` names groups of symbols whose gross exposure is capped together at
    ``max_cluster_pct`` of equity (a symbol may be in several).
    """

    def __init__(
        self,
        params: LimitsParams,
        *,
        clusters: Mapping[str, list[str]],
        portfolio: PortfolioRiskConfig | None = None,
        portvol: PortfolioVolTarget | None = None,
    ) -> None:
        self.params = params
        self.portvol = portvol  # None: no portfolio-level volatility targeting
        portfolio = portfolio if portfolio is not None else PortfolioRiskConfig()
        self._by_equity = portfolio.concentration in ("equity", "both")
        self._by_gross = portfolio.concentration in ("gross", "both")
        self._gross_share = portfolio.max_symbol_gross_share
        self._gross_floor = portfolio.gross_share_floor_pct
        self._clusters_of: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for name, members in clusters.items():
            for symbol in dict.fromkeys(members):
                self._clusters_of.setdefault(symbol, []).append((name, tuple(members)))

    def apply(
        self,
        symbol: str,
        target_notional_usd: float,
        *,
        equity: float,
        others: Mapping[str, float],
        stats: MarketStats,
    ) -> LimitsResult:
        """Shape ``symbol``'s signed target notional (USD).

        ``others`` holds the signed notional of every OTHER symbol's position plus its working
        orders. A zero target comes back unchanged with nothing applied; equity <= 0 leaves no
        room at all (target 0, RISK_CAP_PORTFOLIO scope=equity). Non-finite inputs are an
        ``InvariantViolation``.
        """
        # Comparisons where they do (every bar past the deadband): ``-inf < x < inf`` is
        # "finite" (False for NaN too).
        if (
            symbol in others
            or not (-_INF < target_notional_usd < _INF and -_INF < equity < _INF)
            or (others and not all(map(math.isfinite, others.values())))
        ):
            _check_inputs(symbol, target_notional_usd, equity, others)  # raises, naming what
        if target_notional_usd == 0.0:
            if self.portvol is not None:
                self.portvol.want(symbol, 0.0)
            return LimitsResult(0.0, 0.0)
        positive = target_notional_usd > 0.0
        trace = _Trace(symbol, equity, 1.0 if positive else -1.0)
        magnitude = target_notional_usd if positive else -target_notional_usd
        if equity <= 0.0:
            magnitude = trace.cap(
                ReasonCode.RISK_CAP_PORTFOLIO,
                magnitude,
                0.0,
                scope="equity",
                equity=equity,
                cap=0.0,
            )
        else:
            magnitude = self._vol_target(trace, magnitude, stats)
            if self.portvol is not None:
                magnitude = self._portfolio_vol(trace, magnitude, others, stats)
            magnitude = self._symbol_cap(trace, magnitude, others)
            if symbol in self._clusters_of:
                magnitude = self._cluster_caps(trace, magnitude, others)
            magnitude = self._corr_cap(trace, magnitude, others, stats)
        signed = trace.sign * magnitude if magnitude else 0.0  # trace.signed, inline
        return LimitsResult(signed, target_notional_usd, trace.applied, trace.detail)

    def _vol_target(self, trace: _Trace, magnitude: float, stats: MarketStats) -> float:
        p = self.params
        vol = stats.annual_vol(trace.symbol)
        trace.detail["target_vol"] = p.target_annual_vol
        trace.detail["realised_vol"] = vol
        if vol is None:
            trace.detail["vol_scale"] = 1.0
            trace.detail["vol_status"] = "unknown: too few returns, not scaled"
            return magnitude
        # A constant price has no volatility to target: as far up as the bounds allow.
        raw = p.target_annual_vol / vol if vol > 0.0 else p.vol_max_scale
        scale = min(max(raw, p.vol_min_scale), p.vol_max_scale)
        trace.detail["vol_scale"] = scale
        if scale == 1.0:
            return magnitude
        after = magnitude * scale
        if not math.isfinite(after):
            raise InvariantViolation(f"limits {trace.symbol} scaled target={after!r}: non-finite")
        trace.applied.append(
            reason(
                ReasonCode.VOL_TARGET_SCALE,
                factor=scale,
                realised_vol=vol,
                target_vol=p.target_annual_vol,
                before=trace.signed(magnitude),
                after=trace.signed(after),
            )
        )
        return after

    def _portfolio_vol(
        self, trace: _Trace, magnitude: float, others: Mapping[str, float], stats: MarketStats
    ) -> float:
        assert self.portvol is not None
        signed = trace.sign * magnitude if magnitude else 0.0  # trace.signed, inline
        factor, detail = self.portvol.factor(
            trace.symbol, signed, equity=trace.equity, others=others, stats=stats
        )
        # The book's realised volatility stays in every record (compact_limits); the rest
        # (members, weights) only with a cap, or in the PORTFOLIO_VOL_SCALE reason.
        trace.detail["portfolio_vol"] = detail.get("realised_vol")
        trace.detail["portfolio"] = detail
        if factor == 1.0:
            return magnitude
        after = magnitude * factor
        trace.applied.append(
            reason(
                ReasonCode.PORTFOLIO_VOL_SCALE,
                factor=factor,
                realised_vol=detail["realised_vol"],
                target_vol=detail["target_vol"],
                members=sorted(detail["members"]),
                before=trace.signed(magnitude),
                after=trace.signed(after),
            )
        )
        return after

    def _symbol_cap(self, trace: _Trace, magnitude: float, others: Mapping[str, float]) -> float:
        if self._by_equity:
            cap = self.params.max_symbol_pct * trace.equity
            trace.detail["symbol_cap"] = cap
            if magnitude > cap:  # else nothing to cut: not even the reason's context is built
                magnitude = trace.cap(
                    ReasonCode.RISK_CAP_PORTFOLIO,
                    magnitude,
                    cap,
                    scope="symbol",
                    symbol=trace.symbol,
                    cap=cap,
                )
        if self._by_gross:
            magnitude = self._gross_cap(trace, magnitude, others)
        return magnitude

    def _gross_cap(self, trace: _Trace, magnitude: float, others: Mapping[str, float]) -> float:
        """At most ``max_symbol_gross_share`` of the gross exposure after the order:
        x / (others_gross + x) <= share, so x <= share x others_gross / (1 - share); but
        never less room than ``gross_share_floor_pct`` of equity (a first position is all of
        the gross)."""
        share = self._gross_share
        gross = math.fsum(abs(v) for v in others.values())
        by_share = share * gross / (1.0 - share) if share < 1.0 else math.inf
        floor = self._gross_floor * trace.equity
        cap = max(by_share, floor)
        trace.detail["gross_cap"] = cap
        return trace.cap(
            ReasonCode.CONCENTRATION_GROSS_CAP,
            magnitude,
            cap,
            symbol=trace.symbol,
            share=share,
            others_gross=gross,
            floor_usd=floor,
            cap=cap,
        )

    def _cluster_caps(self, trace: _Trace, magnitude: float, others: Mapping[str, float]) -> float:
        cap = self.params.max_cluster_pct * trace.equity
        seen: dict[str, Any] = {}
        for name, members in self._clusters_of.get(trace.symbol, ()):
            gross = math.fsum(abs(others.get(s, 0.0)) for s in members if s != trace.symbol)
            seen[name] = {"members": list(members), "cap": cap, "others_gross": gross}
            magnitude = trace.cap(
                ReasonCode.RISK_CAP_PORTFOLIO,
                magnitude,
                cap - gross,
                scope="cluster",
                cluster=name,
                members=list(members),
                cap=cap,
                others_gross=gross,
            )
        if seen:
            trace.detail["clusters"] = seen
        return magnitude

    def _corr_cap(
        self, trace: _Trace, magnitude: float, others: Mapping[str, float], stats: MarketStats
    ) -> float:
        p = self.params
        correlated: dict[str, float] = {}
        unknown: list[str] = []
        if not others:  # alone in the book (most bars of a one-symbol run): no group at all
            trace.detail["corr_group"] = {
                "members": [],
                "correlations": correlated,
                "unknown": unknown,
                "threshold": p.corr_threshold,
                "cap": p.max_corr_group_pct * trace.equity,
                "others_gross": 0.0,
            }
            return magnitude
        for other in sorted(others):
            if others[other] == 0.0:
                continue
            rho = stats.correlation(trace.symbol, other)
            if rho is None:
                unknown.append(other)
            elif rho >= p.corr_threshold:
                correlated[other] = rho
        members = list(correlated)
        gross = math.fsum(abs(others[s]) for s in members)
        cap = p.max_corr_group_pct * trace.equity
        trace.detail["corr_group"] = {
            "members": members,
            "correlations": correlated,
            "unknown": unknown,
            "threshold": p.corr_threshold,
            "cap": cap,
            "others_gross": gross,
        }
        # With no correlated position there is no group: the symbol cap alone governs.
        if not members:
            return magnitude
        return trace.cap(
            ReasonCode.CORR_CLUSTER_CAP,
            magnitude,
            cap - gross,
            members=list(members),
            correlations=dict(correlated),
            threshold=p.corr_threshold,
            cap=cap,
            others_gross=gross,
        )


def _check_inputs(symbol: str, target: float, equity: float, others: Mapping[str, float]) -> None:
    if symbol in others:
        raise ValueError(f"limits {symbol}: `others` must not hold the symbol itself")
    # Once per apply: the usual all-finite case in one pass, the details only for the error.
    if all(map(math.isfinite, others.values())) and math.isfinite(target) and math.isfinite(equity):
        return
    bad = {k: v for k, v in others.items() if not math.isfinite(v)}
    raise InvariantViolation(
        f"limits {symbol} target={target!r} equity={equity!r} others={bad!r}: non-finite"
    )
