"""The daily risk guard's policies: what one reservation breaks, and what each policy does
about it (seed 004 lever 2).

A scope (GLOBAL, or a sleeve) is judged on its policy, in this order: a disabled policy
(``enabled = false``) refuses all new risk (``DAILY_POLICY_DISABLED``); then today's realised
loss, exposure used (opened today plus reserved: CUMULATIVE, see ``risk/daily``) and open
risk, the first limit broken being a denial under ``action = "block"`` and a notice
(``DAILY_RISK_NOTIFY``, the would-be denial's code as ``would_block`` with its scope,
current value, addition, limit and day) under ``action = "notify"``. Pure: the guard hands in
what each scope has used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from quantbot.config.risk import DailyPolicy
from quantbot.domain.reasons import Reason, ReasonCode, reason

NOTIFY = "notify"

# scope -> the amounts whose sum is what it used: exposure (opened today, then each reserve)
Used = Callable[[str], list[float]]


@attrs.frozen(slots=True)
class DailyVerdict:
    """The guard's answer on one entry: the denial (None: allowed) and the limits a notify
    policy let it pass (``DAILY_RISK_NOTIFY`` each)."""

    denial: Reason | None
    notices: tuple[Reason, ...] = ()

    def notice_records(self) -> list[dict[str, Any]]:
        return [n.to_record() for n in self.notices]


ALLOWED = DailyVerdict(None)


def opened_share(before: float, after: float) -> float:
    """The fraction of a fill taking the position from ``before`` to ``after`` (signed) that
    opened exposure: what it added to |position|, with the new side of a reversal."""
    traded = abs(after - before)
    if traded == 0.0 or after == 0.0:
        return 0.0
    if before == 0.0 or (before > 0.0) == (after > 0.0):
        return max(0.0, abs(after) - abs(before)) / traded
    return abs(after) / traded  # crossed zero: the new side is opened


def judge(
    scopes: Iterable[tuple[str, DailyPolicy]],
    *,
    day: str,
    pnl: Mapping[str, float],
    exposure_used: Used,
    open_risk: Used,
    notional_usd: float,
    risk_usd: float,
) -> DailyVerdict:
    """The verdict of ``scopes`` (in order) on adding ``notional_usd`` and ``risk_usd``."""
    notices: list[Reason] = []
    for scope, policy in scopes:
        if not policy.enabled:
            off = reason(ReasonCode.DAILY_POLICY_DISABLED, scope=scope, day=day)
            return DailyVerdict(off, tuple(notices))
        broken = breach(
            scope, policy, day=day, loss=max(0.0, -pnl.get(scope, 0.0)),
            used=exposure_used(scope), risks=open_risk(scope), notional_usd=notional_usd,
            risk_usd=risk_usd,
        )  # fmt: skip
        if broken is None:
            continue
        if policy.action != NOTIFY:
            return DailyVerdict(broken, tuple(notices))
        notices.append(
            reason(ReasonCode.DAILY_RISK_NOTIFY, would_block=broken.code.value, **broken.context)
        )
    return DailyVerdict(None, tuple(notices)) if notices else ALLOWED


def breach(
    scope: str,
    policy: DailyPolicy,
    *,
    day: str,
    loss: float,
    used: list[float],
    risks: list[float],
    notional_usd: float,
    risk_usd: float,
) -> Reason | None:
    """The first of ``scope``'s limits the addition breaks: loss, exposure, open risk."""
    if loss >= policy.max_daily_loss_usd:
        return reason(
            ReasonCode.DAILY_LOSS_LIMIT,
            scope=scope, current=loss, adding=0.0, limit=policy.max_daily_loss_usd, day=day,
        )  # fmt: skip
    # Summed with the addition included, exactly as it will be summed once reserved, so an
    # accepted reservation can never read back above its limit.
    if math.fsum([*used, notional_usd]) > policy.max_daily_exposure_usd:
        return reason(
            ReasonCode.DAILY_EXPOSURE_LIMIT,
            scope=scope, current=math.fsum(used), adding=notional_usd,
            limit=policy.max_daily_exposure_usd, day=day,
        )  # fmt: skip
    if math.fsum([*risks, risk_usd]) > policy.max_open_risk_usd:
        return reason(
            ReasonCode.DAILY_OPEN_RISK_LIMIT,
            scope=scope, current=math.fsum(risks), adding=risk_usd,
            limit=policy.max_open_risk_usd, day=day,
        )  # fmt: skip
    return None
