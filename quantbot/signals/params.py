"""The parameters of the built-in sleeve kinds, with the ranges the config loader checks.

A ``[signals.<name>]`` table of a built-in kind is built into one of these classes key by key
(an unknown key, a wrong type or an out-of-range value is a config error naming its file and
line), then ``problems`` checks the rules that involve two keys. The sleeve classes check the
same rules again when they are built; these give the error its line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from quantbot.config.loader import setting

# (key, value, what is wrong): a rule between two keys, reported at the first key's line.
ParamProblem = tuple[str, Any, str]


@attrs.frozen
class TrendParams:
    fast: int = setting(10, ge=1)
    slow: int = setting(30, ge=2)
    scale: float = setting(2.0, gt=0)

    def problems(self, table: str) -> Iterator[ParamProblem]:
        if self.fast >= self.slow:
            yield "fast", self.fast, f"must be below {table}.slow ({self.slow})"


@attrs.frozen
class EmaSarParams:
    fast: int = setting(10, ge=1)
    slow: int = setting(30, ge=2)

    def problems(self, table: str) -> Iterator[ParamProblem]:
        if self.fast >= self.slow:
            yield "fast", self.fast, f"must be below {table}.slow ({self.slow})"


@attrs.frozen
class MeanReversionParams:
    window: int = setting(20, ge=2)
    entry_z: float = setting(1.0, ge=0)
    max_z: float = setting(3.0, gt=0)

    def problems(self, table: str) -> Iterator[ParamProblem]:
        if self.max_z <= self.entry_z:
            yield "max_z", self.max_z, f"must be above {table}.entry_z ({self.entry_z})"


@attrs.frozen
class LogisticModelParams:
    # The artifact directory (`quantbot model train --out DIR`), relative to the config
    # file's directory (as a sleeve's own file is); verified (every file's sha256) before
    # the sleeve loads it.
    artifact: str = setting("")
    # P(up) - 0.5 below min_edge in size: no position; full position at full_edge.
    min_edge: float = setting(0.01, ge=0, le=0.5)
    full_edge: float = setting(0.05, gt=0, le=0.5)

    def problems(self, table: str) -> Iterator[ParamProblem]:
        if not self.artifact:
            yield "artifact", self.artifact, "must name a model artifact directory"
        if self.full_edge <= self.min_edge:
            yield "full_edge", self.full_edge, f"must be above {table}.min_edge ({self.min_edge})"
