"""What a run does with its model artifacts at start (``signals.model_sleeve`` verifies and
loads each one when its sleeve is built).

- ``verify_declared``: a paper, shadow or replay run verifies every model artifact its
  sleeves declare before it opens anything (venue, journal, order side), so a bad artifact
  refuses the start with nothing opened or written (the build verifies again, from the bytes
  it loads).
- ``halt_on_failure``: a live run does not refuse: it halts with
  ``MODEL_VERIFICATION_FAILED`` (persisted until a person resumes), the sleeve runs without
  its model, and the rest of the daemon (reconciliation, protective legs, risk-reducing
  orders, cancels) keeps working.
"""

from __future__ import annotations

from collections.abc import Callable

from quantbot.config.schema import Config
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.models.artifact import ModelVerificationError, load_verified

MODEL_KINDS = ("logistic_model",)


def verify_declared(config: Config) -> None:
    """``ModelVerificationError`` for the first declared artifact that fails verification."""
    for decl in config.signals.values():
        if decl.kind in MODEL_KINDS:
            load_verified(decl.artifact_dir())


OnFailure = Callable[[str, ModelVerificationError], None]


def halt_on_failure(halt: Callable[[Reason], None]) -> OnFailure:
    def on_failure(sleeve: str, error: ModelVerificationError) -> None:
        halt(
            reason(
                ReasonCode.MODEL_VERIFICATION_FAILED,
                sleeve=sleeve,
                file=str(error.path),
                problem=error.problem,
            )
        )

    return on_failure
