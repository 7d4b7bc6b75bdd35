"""Config section ``[charter]``: the confidence charter for recommendations that come from a
model (``quantbot.governance.charter``). Part of the one tree in ``quantbot.config.schema``.

A domain is where a model's recommendation comes from: ``sizer`` (the AI sizer in live mode)
or ``intent:<source>`` (TradeIntents whose ``source`` names the model). Each has a policy in
``[charter.domains.<name>]``; ``[charter.domains.intent]`` is the policy of every intent
source without its own. Off by default: with ``enabled = false`` nothing is gated or scored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import attrs

from quantbot.config.loader import setting

SIZER = "sizer"
INTENT = "intent"
# An intent's ``source`` (and so a domain name): letters, digits and ``._-``, 1-64 characters.
SOURCE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def is_domain(name: str) -> bool:
    """``sizer``, ``intent`` (the intent sources' shared policy) or ``intent:<source>``."""
    if name in (SIZER, INTENT):
        return True
    kind, _, source = name.partition(":")
    return kind == INTENT and SOURCE_RE.fullmatch(source) is not None


@attrs.frozen
class CharterPolicy:
    # What a recommendation needs to be used: its confidence at least min_confidence_prod,
    # and its domain production-eligible: prod_use_enabled here, promoted by a person
    # (`quantbot charter promote`), and a scorecard of at least min_sandbox_trials trials
    # in the window with a success rate of at least min_sandbox_success_rate.
    min_confidence_prod: float = setting(0.92, ge=0, le=1)
    min_sandbox_trials: int = setting(75, ge=0)
    min_sandbox_success_rate: float = setting(0.82, ge=0, le=1)
    prod_use_enabled: bool = setting(False)


@attrs.frozen
class CharterConfig:
    enabled: bool = setting(False)  # off: today's behaviour, nothing gated or scored
    # A trial: the recommendation's side held from the next bar's open for hold_bars bars
    # (exit at the close of the hold_bars-th bar), a success when its return minus the paper
    # venue's modelled cost (entry and exit, [venue.sim]) is > 0.
    hold_bars: int = setting(5, ge=1, le=10_000)
    # The scorecard judged: the trials that ended in the last window_days trading days.
    window_days: int = setting(90, ge=1, le=3650)
    domains: dict[str, CharterPolicy] = setting({SIZER: CharterPolicy(), INTENT: CharterPolicy()})

    def policy(self, domain: str) -> CharterPolicy | None:
        """``domain``'s own policy, an intent source's shared one, or None."""
        found = self.domains.get(domain)
        if found is None and domain.startswith(INTENT + ":"):
            found = self.domains.get(INTENT)
        return found


def charter_problems(config: CharterConfig) -> Iterator[tuple[tuple[str, ...], Any, str]]:
    """Cross-key rules of [charter] (second pass of ``quantbot.config.schema``)."""
    for name in config.domains:
        if not is_domain(name):
            yield (
                ("charter", "domains", name),
                name,
                "a domain is sizer, intent or intent:<source> (source: letters, digits, ._-)",
            )
