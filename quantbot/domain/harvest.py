"""A harvest policy as the seeds write it: a preset name, or a table of exits.

``ai_harvest_policy`` (``[sizer]`` in the config, and a v1.1 TradeIntent field) takes either

- a name: ``"SCALPER"``, ``"SWING"``, ``"TREND_RUNNER"`` (any case), or ``"AUTO"`` (config only:
  the AI sizer picks the preset by confidence, as it always did); or
- the seed's dict shape: ``{mode, stop_loss, take_profit, trailing, max_hold}``, where ``mode``
  is the preset the exits start from (a name as above; absent: ``AUTO``) and each other key,
  when given, replaces that preset's value: ``stop_loss``, ``take_profit`` and ``trailing`` as
  fractions of the entry price (``0.01`` is 1%; ``trailing = 0`` is no trailing stop),
  ``max_hold`` in bars.

Pure: ``parse_harvest`` raises ``HarvestShapeError`` naming the key (``mode``,
``stop_loss`` ...) and the problem; the config loader and the intent parser put their own
prefix (file and line, or the intent field) in front of it.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

AUTO = "AUTO"
PRESETS = ("SCALPER", "SWING", "TREND_RUNNER")
MODES = (AUTO, *PRESETS)
# The seed's keys, and the HarvestPreset field each replaces.
FIELDS = {
    "stop_loss": "stop_loss_pct",
    "take_profit": "take_profit_pct",
    "trailing": "trailing_stop_pct",
    "max_hold": "max_hold_bars",
}
KEYS = ("mode", *FIELDS)


class HarvestShapeError(ValueError):
    """``key`` ("" for the value as a whole) and what is wrong with it."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}" if key else problem)
        self.key = key
        self.problem = problem


@attrs.frozen(slots=True)
class HarvestSpec:
    """A harvest policy: the preset ``mode`` (``AUTO``: by confidence) and the exits that
    replace the preset's (None: the preset's own)."""

    mode: str = AUTO
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing: float | None = None
    max_hold: int | None = None

    @property
    def overrides(self) -> dict[str, Any]:
        """HarvestPreset field -> the value this spec puts in place of the preset's."""
        return {
            field: getattr(self, key)
            for key, field in FIELDS.items()
            if getattr(self, key) is not None
        }

    def plain(self) -> str | dict[str, Any]:
        """A bare name when nothing is replaced, else the seed's dict shape (JSON-ready)."""
        if not self.overrides:
            return self.mode
        shown: dict[str, Any] = {"mode": self.mode}
        shown.update({k: getattr(self, k) for k in FIELDS if getattr(self, k) is not None})
        return shown

    def apply(self, preset: Any) -> Any:
        """``preset`` (a ``HarvestPreset``) with this spec's exits in place of its own."""
        overrides = self.overrides
        return attrs.evolve(preset, **overrides) if overrides else preset


def parse_harvest(value: Any, *, allow_auto: bool) -> HarvestSpec:
    """A name or the seed's dict as a ``HarvestSpec``; ``HarvestShapeError`` otherwise.

    ``allow_auto``: whether ``AUTO`` (choose by confidence) is a valid mode here (the config's
    default policy: yes; an intent, which states what it wants: a dict may leave ``mode`` out,
    meaning the sizer's choice, but a bare ``"AUTO"`` says nothing and is refused).
    """
    if isinstance(value, str):
        return HarvestSpec(mode=_mode(value, allow_auto=allow_auto))
    if not isinstance(value, dict):
        raise HarvestShapeError(
            "",
            f"must be a preset name ({', '.join(PRESETS)}) or a table with keys "
            f"{', '.join(KEYS)}; got {type(value).__name__}",
        )
    unknown = sorted(str(k) for k in value if k not in KEYS)
    if unknown:
        raise HarvestShapeError(unknown[0], f"unknown key (known keys: {', '.join(KEYS)})")
    mode = value.get("mode")
    return HarvestSpec(
        mode=AUTO if mode is None else _mode(mode, allow_auto=True, key="mode"),
        stop_loss=_fraction(value, "stop_loss", low_open=True),
        take_profit=_fraction(value, "take_profit", low_open=True),
        trailing=_fraction(value, "trailing", low_open=False),
        max_hold=_bars(value, "max_hold"),
    )


def _mode(value: Any, *, allow_auto: bool, key: str = "") -> str:
    if not isinstance(value, str):
        raise HarvestShapeError(key, f"must be a string, got {type(value).__name__}")
    name = value.strip().upper()
    allowed = MODES if allow_auto else PRESETS
    if name not in allowed:
        raise HarvestShapeError(key, f"must be one of {', '.join(allowed)}, got {value!r}")
    return name


def _fraction(table: dict[str, Any], key: str, *, low_open: bool) -> float | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HarvestShapeError(key, f"must be a number, got {type(value).__name__}")
    value = float(value)
    low_ok = value > 0.0 if low_open else value >= 0.0
    if not (math.isfinite(value) and low_ok and value <= 1.0):
        bound = "(0, 1]" if low_open else "[0, 1]"
        raise HarvestShapeError(
            key, f"must be a fraction of the entry price in {bound} (0.01 is 1%), got {value!r}"
        )
    return value


def _bars(table: dict[str, Any], key: str) -> int | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise HarvestShapeError(key, f"must be a whole number of bars, got {value!r}")
    if value < 1:
        raise HarvestShapeError(key, f"must be >= 1 bar, got {value!r}")
    return value
