"""The limits a live run must state: every key that bounds an order's size, the rate of
orders, or the loss a day can bring, for the active trading profile.

A paper or shadow run may take the schema's defaults for them (they are the conservative,
paper-safe values ``config.toml`` documents) and says which in its manifest
(``defaulted_limits``) and in ``quantbot config check``. A live run refuses to start while any
of them is left to a default: a section dropped from the file, or one key missing from it,
must not quietly become a limit nobody chose. Stated means written in the config file or set
by its ``QUANTBOT__SECTION__KEY`` environment variable (both are someone's explicit choice;
the manifest names which keys came from the environment).

The list, per profile ``P`` (``run.trading_profile`` or ``--trading-mode``):

- ``[pretrade]``: every numeric key (order size and value, collars, data and quote age,
  message rates, cancel loop, execution and collar-block throttles, duplicate window);
- ``[profiles.P] max_position_usd``;
- ``[governor.P] max_position_usd, max_leverage, max_notional_usd``;
- ``[policy.P] max_total_positions, max_total_exposure_pct, max_symbol_exposure_pct,
  max_positions_per_symbol``;
- ``[limits.P] max_symbol_pct, max_cluster_pct, max_corr_group_pct``;
- ``[daily_risk.P.total]`` and ``[daily_risk.P.per_sleeve]``: ``max_daily_loss_usd,
  max_daily_exposure_usd, max_open_risk_usd``.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from quantbot.config.ops import PretradeConfig
from quantbot.domain.errors import ConfigError

KeyPath = tuple[str, ...]

_NUMBERS = (int, float, Decimal)
_PER_PROFILE: dict[tuple[str, ...], tuple[str, ...]] = {
    ("profiles",): ("max_position_usd",),
    ("governor",): ("max_position_usd", "max_leverage", "max_notional_usd"),
    ("policy",): (
        "max_total_positions",
        "max_total_exposure_pct",
        "max_symbol_exposure_pct",
        "max_positions_per_symbol",
    ),
    ("limits",): ("max_symbol_pct", "max_cluster_pct", "max_corr_group_pct"),
}
_DAILY = ("max_daily_loss_usd", "max_daily_exposure_usd", "max_open_risk_usd")


def _pretrade_keys() -> tuple[str, ...]:
    hints = typing.get_type_hints(PretradeConfig)
    return tuple(f.name for f in attrs.fields(PretradeConfig) if hints[f.name] in _NUMBERS)


def limit_keys(profile: str) -> list[KeyPath]:
    """Every limit of ``profile``, as key paths, in the order they are reported."""
    keys: list[KeyPath] = [("pretrade", name) for name in _pretrade_keys()]
    for (section,), names in _PER_PROFILE.items():
        keys += [(section, profile, name) for name in names]
    for scope in ("total", "per_sleeve"):
        keys += [("daily_risk", profile, scope, name) for name in _DAILY]
    return keys


def _stated(data: Mapping[str, Any], key_path: KeyPath) -> bool:
    node: Any = data
    for part in key_path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def defaulted_limits(data: Mapping[str, Any], profile: str) -> list[str]:
    """Dotted names of the limits ``data`` (the file merged with the environment overrides)
    leaves to the schema's defaults."""
    return [".".join(k) for k in limit_keys(profile) if not _stated(data, k)]


def require_stated(defaulted: list[str], path: Path | None, execution_mode: str) -> None:
    """A live run with a defaulted limit: ``ConfigError`` naming every one, by file and
    section (so all of them are fixed in one edit, not one start at a time)."""
    if execution_mode != "live" or not defaulted:
        return
    where = str(path) if path is not None else "<no config file>"
    by_section: dict[str, list[str]] = {}
    for dotted in defaulted:
        section, _, key = dotted.rpartition(".")
        by_section.setdefault(section, []).append(key)
    lines = [f"  {where}: [{section}] {', '.join(keys)}" for section, keys in by_section.items()]
    raise ConfigError(
        f"live execution needs every limit stated in the config file; {len(defaulted)} "
        "would silently take a default:\n" + "\n".join(lines) + "\n(write each one in its "
        "section; paper and shadow runs list them as defaulted_limits in the manifest)"
    )
