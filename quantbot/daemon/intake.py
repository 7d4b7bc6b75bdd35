"""The TradeIntent inbox as a daemon task: read new lines, feed the external sleeve, record.

Every line taken leaves a line in the decision records: ``INTENT_ACCEPTED`` with the
normalised intent (and any leverage clamp), ``INTENT_NOT_USED`` for a model's intent the
confidence charter did not let through (its failing gate as the reason, ``charter`` beside;
a model's intent used has its ``charter`` part too), or ``INTENT_REJECTED`` /
``INTENT_UNKNOWN_SYMBOL`` / ``INTENT_DUPLICATE`` with the field (or the first copy) named and
the raw line kept. Nothing is dropped silently. The ids already taken are kept per execution
mode in ``state/intent_ids-<mode>.jsonl``, so a copy of an intent is known across restarts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from loguru import logger

from quantbot.clock import Clock
from quantbot.config.schema import Config
from quantbot.decision.step import DecisionStep
from quantbot.domain.reasons import ReasonCode, reason
from quantbot.fsutil import ensure_private_dir
from quantbot.records.jsonl import RotatingJsonl
from quantbot.signals.external import ExternalSleeve
from quantbot.signals.inbox import IntentInbox
from quantbot.signals.intent_ids import RETENTION_S, SeenIntentIds


class IntentIntake:
    """Polls the inbox every ``interval_s``: accepted intents (leverage clamped to the
    governor's bounds) go to the external sleeve; every line taken is recorded."""

    def __init__(
        self,
        inbox: IntentInbox,
        external: ExternalSleeve,
        *,
        step: DecisionStep,
        leverage_bounds: tuple[float, float],
        write: Callable[[dict[str, Any]], None],
        clock: Clock,
        interval_s: float,
    ) -> None:
        self.inbox = inbox
        self.external = external
        self._step = step
        self._bounds = leverage_bounds
        self._write = write
        self._clock = clock
        self._interval_s = interval_s
        self.accepted = 0
        self.rejected = 0

    def take(self) -> int:
        """Poll the inbox once; returns how many lines were taken (accepted or rejected)."""
        items = self.inbox.poll()
        for item in items:
            where = {"file": item.file, "line_no": item.line_no}
            if item.intent is None:
                self.rejected += 1
                why = item.rejected
                code = why.code.value if why is not None else "INTENT_REJECTED"
                self._write(self._step.event_record(code, why, **where, raw=item.raw))
                logger.warning("inbox {}:{} rejected: {}", item.file, item.line_no, why)
                continue
            intent, clamps = item.intent.normalized(*self._bounds)
            charter = self._step.risk.charter  # a model's intent: used only if it passes
            judged = charter.intent(intent) if charter is not None else None
            gate = judged[0] if judged is not None else None
            if gate is None:
                self.external.offer(intent)
                self.accepted += 1
            event = "INTENT_ACCEPTED" if gate is None else "INTENT_NOT_USED"
            extra = {} if judged is None else {"charter": judged[1]}
            self._write(
                self._step.event_record(
                    event,
                    gate,
                    **where,
                    intent=intent.to_record(),
                    clamps=[c.to_record() for c in clamps],
                    **extra,
                )
            )
        return len(items)

    async def run_forever(self) -> None:
        """The daemon task. The inbox is an optional input: a read failure is recorded once
        (and again only after a good poll), and trading goes on without new intents."""
        failing = False
        while True:
            try:
                self.take()
                failing = False
            except OSError as exc:
                if not failing:
                    why = reason(
                        ReasonCode.INTENT_INBOX_UNREADABLE,
                        directory=str(self.inbox.directory),
                        error=f"{type(exc).__name__}: {exc}",
                    )
                    logger.warning("inbox: {}", why)
                    self._write(self._step.event_record("INBOX", why))
                failing = True
            await self._clock.sleep(self._interval_s)


def open_intake(
    config: Config, *, mode: str, clock: Clock, step: DecisionStep, records: RotatingJsonl
) -> IntentIntake | None:
    """The inbox under runtime/, when enabled (the decision step then has its sleeve)."""
    external = step.risk.external
    if not config.inbox.enabled or external is None:
        return None
    directory = Path(config.run.runtime_dir) / config.inbox.directory
    ensure_private_dir(directory)
    governor = config.risk_params.governor
    # Per mode, like the offsets: a shadow run's intents do not make a paper run's duplicates.
    seen = SeenIntentIds(
        Path(config.run.state_dir) / f"intent_ids-{mode}.jsonl",
        clock=clock,
        retention_s=max(RETENTION_S, 2.0 * config.inbox.ttl_s),
    )
    return IntentIntake(
        IntentInbox(
            directory,
            symbols=config.market.symbols,
            max_line_bytes=config.inbox.max_line_bytes,
            offsets_name=f".offsets-{mode}.json",
            seen=seen,
        ),
        external,
        step=step,
        leverage_bounds=(governor.min_leverage, governor.max_leverage),
        write=records.write,
        clock=clock,
        interval_s=config.inbox.poll_interval_s,
    )
