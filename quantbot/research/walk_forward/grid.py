"""The grid of sleeve parameters a walk-forward searches, from a TOML file.

Each table is a declared sleeve (``[signals.<name>]`` in the config); each key one of its
parameters, as a list of values or an inclusive range ``{start, stop, step}``::

    [trend]
    fast = [5, 10]
    slow = {start = 20, stop = 40, step = 10}   # 20, 30, 40

The points are the cartesian product, in file order (the first key varies slowest). A seeded
sample of N of them (``sample``) keeps grid order, so ties still go to the earlier point.
"""

from __future__ import annotations

import itertools
import math
import random
import tomllib
from pathlib import Path
from typing import Any

from quantbot.domain.errors import ConfigError

Point = tuple[tuple[str, str, Any], ...]  # ((sleeve, param, value), ...)


def load(path: Path) -> list[Point]:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise ConfigError(f"--grid {path}: cannot read it: {e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"--grid {path}: not TOML: {e}") from e
    return parse(data, str(path))


def parse(data: dict[str, Any], where: str) -> list[Point]:
    axes: list[list[tuple[str, str, Any]]] = []
    for sleeve, table in data.items():
        if not isinstance(table, dict) or not table:
            raise ConfigError(f"{where}: [{sleeve}] must be a table of the sleeve's parameters")
        for key, spec in table.items():
            values = _values(spec, f"{where}: {sleeve}.{key}")
            axes.append([(sleeve, key, v) for v in values])
    if not axes:
        raise ConfigError(f"{where}: the grid is empty (add e.g. [trend] fast = [5, 10])")
    return [tuple(p) for p in itertools.product(*axes)]


def _values(spec: Any, where: str) -> list[Any]:
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(f"{where}: an empty list")
        return list(spec)
    if isinstance(spec, dict):
        missing = [k for k in ("start", "stop", "step") if k not in spec]
        extra = sorted(set(spec) - {"start", "stop", "step"})
        if missing or extra:
            raise ConfigError(
                f"{where}: a range is {{start, stop, step}}"
                + (f" (missing {', '.join(missing)})" if missing else "")
                + (f" (unknown {', '.join(extra)})" if extra else "")
            )
        start, stop, step = spec["start"], spec["stop"], spec["step"]
        nums = (start, stop, step)
        if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in nums):
            raise ConfigError(f"{where}: start, stop and step must be numbers")
        if not all(math.isfinite(x) for x in nums) or step <= 0 or stop < start:
            raise ConfigError(f"{where}: need step > 0 and stop >= start, got {spec}")
        count = int((stop - start) / step + 1e-9) + 1
        if all(isinstance(x, int) for x in nums):
            return [start + i * step for i in range(count)]
        digits = max(_decimals(x) for x in nums)
        return [round(start + i * step, digits) for i in range(count)]
    raise ConfigError(f"{where}: {spec!r} is neither a list nor a {{start, stop, step}} range")


def _decimals(x: float) -> int:
    text = repr(float(x))
    return len(text.split(".")[1]) if "." in text and "e" not in text else 12


def sample(points: list[Point], n: int | None, seed: int) -> list[Point]:
    """``n`` of ``points`` drawn with ``random.Random(seed)``, in grid order (all if n is None
    or at least their number)."""
    if n is None or n >= len(points):
        return points
    if n <= 0:
        raise ConfigError(f"--sample {n}: must be at least 1")
    picked = sorted(random.Random(seed).sample(range(len(points)), n))
    return [points[i] for i in picked]


def label(point: Point) -> str:
    return " ".join(f"{s}.{k}={v}" for s, k, v in point)


def plain(point: Point) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for sleeve, key, value in point:
        out.setdefault(sleeve, {})[key] = value
    return out
