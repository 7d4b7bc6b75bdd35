"""``[sizer] ai_harvest_policy``: the harvest policy of AI-sized entries, as a config
``loader.FreeTable`` (a preset name or the seed's table; ``quantbot.domain.harvest``)."""

from __future__ import annotations

from typing import Any, ClassVar

from quantbot.config import loader
from quantbot.domain.harvest import HarvestShapeError, HarvestSpec, parse_harvest

_KEY_TYPES = {"mode": str, "max_hold": int}


class HarvestPolicy:
    """``spec`` is the policy; ``AUTO`` (the default) picks the preset by confidence.

    Not an attrs class: one value (a name or a table), not a table of fixed keys, so the
    schema's walkers treat it as one key (the loader knows it by ``free_table``)."""

    free_table: ClassVar[bool] = True
    whole_value: ClassVar[bool] = True  # QUANTBOT__SIZER__AI_HARVEST_POLICY=SWING is a key
    __slots__ = ("spec",)

    def __init__(self, spec: HarvestSpec | None = None) -> None:
        self.spec = spec if spec is not None else HarvestSpec()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HarvestPolicy) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash(self.spec)

    def __repr__(self) -> str:
        return f"HarvestPolicy({self.spec.plain()!r})"

    @classmethod
    def from_table(cls, value: Any, key_path: tuple[str, ...], where: loader.Locator) -> Any:
        try:
            return cls(parse_harvest(value, allow_auto=True))
        except HarvestShapeError as e:
            at = (*key_path, e.key) if e.key else key_path
            shown = value.get(e.key) if e.key and isinstance(value, dict) else value
            raise loader.config_error(where, at, shown, e.problem) from e

    def plain(self) -> Any:
        return self.spec.plain()

    @staticmethod
    def key_type(key: str) -> Any:
        return _KEY_TYPES.get(key, float)
