"""The model-driven sleeve kind ``logistic_model``: a verified logistic-regression artifact
(``quantbot model train``) turned into a target per bar.

The artifact is verified and loaded once, when the sleeve is built (at the daemon's start):
every file's sha256 against its manifest, then the model parsed from the bytes that were
hashed. The sleeve keeps the parsed weights and never reads the directory again, so changing
the files while a daemon runs changes nothing in it. A failed verification raises
``ModelVerificationError``: a paper, shadow or replay run refuses to start with it; a live
run halts (``MODEL_VERIFICATION_FAILED``) and runs ``RefusedModelSleeve`` in its place.

Target: ``p`` = P(next bar closes up). ``edge = p - 0.5``; below ``min_edge`` in size the
target is 0, growing linearly to +/-1 at ``full_edge``. Confidence is ``|edge| / full_edge``
(capped at 1): a daily-bar model's edge is a few percent, so ``|2p - 1|`` itself would read
as no confidence at all.
"""

from __future__ import annotations

from pathlib import Path

from quantbot.domain.values import Bar
from quantbot.models.artifact import ModelVerificationError, load_verified
from quantbot.models.features import NAMES, WARMUP_BARS, FeatureWindow
from quantbot.models.logistic import KIND, MODEL_FILE, LogisticModel
from quantbot.signals.base import SleeveSignal, check_finite, checked_close, clip, warming_up


class LogisticModelSleeve:
    __slots__ = ("_model", "_windows", "full_edge", "min_edge", "model_artifact", "name",
                 "warmup_bars")  # fmt: skip

    def __init__(
        self, name: str, *, artifact: str, min_edge: float = 0.01, full_edge: float = 0.05
    ) -> None:
        if not 0.0 <= min_edge < full_edge <= 0.5:
            raise ValueError(
                f"logistic model sleeve {name!r}: need 0 <= min_edge < full_edge <= 0.5, "
                f"got min_edge={min_edge}, full_edge={full_edge}"
            )
        self.name = name
        self.min_edge = min_edge
        self.full_edge = full_edge
        self.warmup_bars = WARMUP_BARS
        verified = load_verified(Path(artifact))
        if verified.manifest["kind"] != KIND or MODEL_FILE not in verified.files:
            raise ModelVerificationError(
                verified.directory / "manifest.json",
                f"kind {verified.manifest['kind']!r} with files {sorted(verified.files)}: "
                f"this sleeve needs a {KIND} artifact with {MODEL_FILE}",
            )
        try:
            self._model = LogisticModel.from_bytes(verified.files[MODEL_FILE])
        except ValueError as e:
            raise ModelVerificationError(verified.directory / MODEL_FILE, str(e)) from e
        # What the run manifest says this sleeve trades on (``daemon.manifest``).
        self.model_artifact = {
            "directory": str(verified.directory),
            "version": verified.manifest["version"],
            "manifest_sha256": verified.manifest_sha256,
            "created": verified.manifest["created"],
        }
        self._windows: dict[str, FeatureWindow] = {}

    def reset(self, symbol: str) -> None:
        self._windows.pop(symbol, None)

    def update(self, bar: Bar) -> SleeveSignal:
        checked_close(self.name, bar)
        window = self._windows.get(bar.symbol)
        if window is None:
            window = self._windows[bar.symbol] = FeatureWindow()
        x = window.push(bar)
        if x is None:
            return warming_up({})
        for field, value in zip(NAMES, x, strict=True):
            check_finite(self.name, bar.symbol, field, value)
        p = self._model.probability(x)
        edge = p - 0.5
        size = abs(edge)
        if size < self.min_edge:
            target = 0.0
        else:
            strength = min(1.0, (size - self.min_edge) / (self.full_edge - self.min_edge))
            target = strength if edge > 0 else -strength
        confidence = clip(size / self.full_edge, 0.0, 1.0)
        return SleeveSignal(clip(target, -1.0, 1.0), confidence, True, {"p_up": p})


class RefusedModelSleeve:
    """A live run's stand-in for a model sleeve whose artifact failed verification: it never
    becomes ready and never asks for a position (the run is halted besides)."""

    __slots__ = ("model_artifact", "name", "warmup_bars")

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        self.warmup_bars = 0
        self.model_artifact = {"refused": problem}

    def reset(self, symbol: str) -> None:
        return None

    def update(self, bar: Bar) -> SleeveSignal:
        return warming_up({"model_refused": 1.0})
