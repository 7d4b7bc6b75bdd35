"""The sleeves part of the config: ``[signals.<name>]`` declarations and the per-profile weight
tables ``[regime_components.<profile>]``, keyed by sleeve name.

- The sleeves that run are those the file declares, in its order; a file without a
  ``[signals]`` table runs the shipped two, ``trend`` and ``mean_reversion``, with their
  default parameters. An environment variable changes a declared sleeve's key
  (``QUANTBOT__SIGNALS__TREND__FAST``), it does not declare one.
- A profile's weights start from the defaults of the shipped sleeves the file declares (under
  their own names) and ``external = 1.0`` (the inbox's sleeve); the file's keys and then the
  environment's replace those. Every declared sleeve needs a weight in every profile (0 runs
  and records it without trading on it); a weight naming no declared sleeve is an error.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from quantbot.domain.errors import ConfigError
from quantbot.signals.registry import INBOX_KIND, SleeveDecl

DEFAULT_SLEEVES = ("trend", "mean_reversion")
_DEFAULT_WEIGHTS = {
    "conservative": {"trend": 0.7, "mean_reversion": 0.3},
    "balanced": {"trend": 0.5, "mean_reversion": 0.5},
    "aggressive": {"trend": 0.4, "mean_reversion": 0.6},
}
INBOX_WEIGHT = 1.0

Problem = tuple[tuple[str, ...], Any, str]


def default_signals() -> dict[str, SleeveDecl]:
    return {n: SleeveDecl.from_table({}, ("signals", n), _defaults) for n in DEFAULT_SLEEVES}


def _defaults(_: tuple[str, ...]) -> str:
    return "<defaults>"


def default_weights(profile: str) -> dict[str, float]:
    return {**_DEFAULT_WEIGHTS[profile], INBOX_KIND: INBOX_WEIGHT}


def fill_in(
    data: dict[str, Any], env: Mapping[tuple[str, ...], tuple[str, Any]], profiles: tuple[str, ...]
) -> dict[str, Any]:
    """The file's tables completed as the module docstring says (before the environment's
    values are merged in); tables that are not tables are left to the loader to report."""
    data = dict(data)
    signals = data.setdefault("signals", {name: {} for name in DEFAULT_SLEEVES})
    if not isinstance(signals, dict):
        return data
    for path, (variable, _) in env.items():
        if path[0] == "signals" and len(path) > 2 and path[1] not in signals:
            raise ConfigError(
                f"environment {variable}: signals.{path[1]} is not a declared sleeve "
                f"(declared: {', '.join(signals) or 'none'})"
            )
    tables = data.get("regime_components", {})
    if not isinstance(tables, dict):
        return data
    data["regime_components"] = tables = dict(tables)
    for profile in profiles:
        given = tables.get(profile, {})
        if isinstance(given, dict):
            tables[profile] = {**_shipped_weights(profile, signals), **given}
    return data


def _shipped_weights(profile: str, signals: Mapping[str, Any]) -> dict[str, float]:
    """The default weights of the shipped sleeves ``signals`` declares as shipped, and the
    inbox's, in declaration order."""
    weights = {
        name: weight
        for name, table in signals.items()
        if isinstance(table, dict)
        and table.get("kind", name) == name
        and (weight := _DEFAULT_WEIGHTS[profile].get(name)) is not None
    }
    return {**weights, INBOX_KIND: INBOX_WEIGHT}


def with_origin(signals: Mapping[str, SleeveDecl], origin: Path) -> dict[str, SleeveDecl]:
    """The declarations with the directory their relative file paths are relative to."""
    return {n: attrs.evolve(d, origin=str(origin)) for n, d in signals.items()}


def problems(
    signals: Mapping[str, SleeveDecl], tables: Any, profiles: tuple[str, ...]
) -> Iterator[Problem]:
    """Each declaration's own problems (kind, code, params), then the weight tables'."""
    for name, decl in signals.items():
        for key, value, problem in decl.problems():
            yield ("signals", name, *key), value, problem
    declared = ", ".join(signals)
    for profile in profiles:
        weights: dict[str, float] = getattr(tables, profile)
        where = ("regime_components", profile)
        for name, weight in weights.items():
            if name not in signals and name != INBOX_KIND:
                yield (
                    (*where, name),
                    weight,
                    f"names no declared sleeve (declared: {declared}; {INBOX_KIND} is the "
                    "inbox's sleeve)",
                )
            elif weight < 0:
                yield (*where, name), weight, "must be >= 0"
        for name in signals:
            if name not in weights:
                yield (
                    ("signals", name),
                    signals[name].plain(),
                    f"has no weight in regime_components.{profile} (add {name} = <weight> "
                    "there; 0 runs and records it without trading on it)",
                )
        if sum(weights.values()) <= 0:
            yield where, weights, "at least one sleeve weight must be positive"


@functools.cache
def _record_type(names: tuple[str, ...]) -> type:
    return attrs.make_class("SleeveWeights", list(names), frozen=True, slots=True)


def weights_record(weights: Mapping[str, float], signals: Mapping[str, SleeveDecl]) -> Any:
    """A profile's weights as a frozen record with a field per sleeve, in declaration order
    (the inbox's last): ``attrs.asdict`` of it is name -> weight in the records' order."""
    names = [n for n in signals if n in weights]
    names += [n for n in weights if n not in signals]
    return _record_type(tuple(names))(*(weights[n] for n in names))
