"""The sleeves a config describes: those its ``[signals]`` tables declare, in their order, plus
the inbox's external sleeve when the inbox is enabled (its intents reach the decision step
through it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from quantbot.clock import Clock
from quantbot.config.schema import Config
from quantbot.models.artifact import ModelVerificationError
from quantbot.signals.base import Sleeve
from quantbot.signals.external import ExternalSleeve
from quantbot.signals.model_sleeve import RefusedModelSleeve
from quantbot.signals.registry import INBOX_KIND, SleeveDecl, builtin_code, describe
from quantbot.signals.sleeve_set import SleeveSet
from quantbot.signals.timeframe import with_timeframes


def configured_sleeves(
    config: Config,
    external: ExternalSleeve | None,
    replace: Iterable[Sleeve] | None = None,
    on_model_failure: Callable[[str, ModelVerificationError], None] | None = None,
) -> SleeveSet:
    """The declared sleeves (or ``replace``'s), then ``external`` when there is one; a sleeve
    declared with a ``timeframe`` reads that timeframe's bars (``signals.timeframe``).

    A model artifact that fails verification raises ``ModelVerificationError`` (the run
    refuses to start), unless ``on_model_failure`` is given (a live run: it halts), which is
    told and the sleeve runs as ``RefusedModelSleeve``."""
    if replace is None:
        sleeves = [_build(d, on_model_failure) for d in config.signals.values()]
    else:
        sleeves = list(replace)
    sleeves = with_timeframes(sleeves, {n: d.timeframe for n, d in config.signals.items()})
    return SleeveSet([*sleeves, external] if external is not None else sleeves)


def _build(
    decl: SleeveDecl, on_model_failure: Callable[[str, ModelVerificationError], None] | None
) -> Sleeve:
    try:
        return decl.build()
    except ModelVerificationError as e:
        if on_model_failure is None:
            raise
        on_model_failure(decl.name, e)
        return RefusedModelSleeve(decl.name, str(e))


def inbox_sleeve(config: Config, clock: Clock) -> ExternalSleeve | None:
    if not config.inbox.enabled:
        return None
    return ExternalSleeve(name=INBOX_KIND, ttl_s=config.inbox.ttl_s, clock=clock)


def sleeves_manifest(config: Config) -> dict[str, dict[str, Any]]:
    """Each sleeve's kind, source file and its sha256, and params, for the run manifest."""
    sleeves = describe(config.signals)
    if config.inbox.enabled:
        code = builtin_code(ExternalSleeve)
        sleeves[INBOX_KIND] = {
            "kind": INBOX_KIND,
            "source": code.source,
            "sha256": code.sha256,
            "params": {"ttl_s": config.inbox.ttl_s},
        }
    return sleeves
