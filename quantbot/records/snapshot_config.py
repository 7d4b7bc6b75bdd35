"""The settings part of a snapshot (``records.snapshots``), and the config rebuilt from it.

``settings(config)`` is everything in the resolved config that shapes a decision: the active
trading profile's table of each per-profile section (the other profiles' are left out: they
decide nothing), every other section a decision or an order outcome reads, and ``run``'s
profile and client id namespace. Left out: where the run writes (``run``'s directories,
``records``), what only reports or watches (``alerts``, ``notify``, ``dashboard``,
``watchdog``, ``golive``, ``control``), and ``market``'s data file names and pace (the bars
are the records' inputs). Credentials are never in the config; URLs are redacted.

``config_from_snapshot(content)`` builds a ``LoadedConfig`` from a snapshot's content alone
(no config file): the left-out sections take the schema's defaults, and ``settings`` of the
result is the content's again, so a replay under it names the same snapshot.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import attrs

from quantbot.config import loader
from quantbot.config.schema import PROFILES, Config, LoadedConfig, config_hash
from quantbot.config.sleeves import with_origin
from quantbot.domain.errors import ConfigError
from quantbot.records.redact import redact_tree
from quantbot.signals.configured import sleeves_manifest

# Sections that never shape a decision or an order's outcome.
_LEFT_OUT = frozenset({"records", "alerts", "notify", "dashboard", "watchdog", "golive", "control"})
_RUN_KEPT = ("trading_profile", "client_id_namespace")
_MARKET_LEFT_OUT = frozenset({"csv_paths", "csv_pace", "csv_speed"})


def settings(config: Config) -> dict[str, Any]:
    """The decision-shaping config, the active profile's tables only (see the module doc)."""
    active = config.run.trading_profile
    others = set(PROFILES) - {active}
    out: dict[str, Any] = {}
    for name, plain in loader.to_plain(config).items():
        if name in _LEFT_OUT:
            continue
        section = plain
        if name == "run":
            section = {k: plain[k] for k in _RUN_KEPT}
        elif name == "market":
            section = {k: v for k, v in plain.items() if k not in _MARKET_LEFT_OUT}
        elif isinstance(plain, dict) and set(PROFILES) <= set(plain):
            section = {k: v for k, v in plain.items() if k not in others}
        out[name] = section
    return redact_tree(out)


def profile(config: Config) -> dict[str, Any]:
    """The trading profile's name and its sizing and netting values (deadband)."""
    return {"name": config.run.trading_profile, **loader.to_plain(config.profile)}


def sleeves(config: Config, weights: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Each running sleeve's kind, the sha256 of its code, its params and its weight in
    netting (``weights``: the step's). The source file's path is left out: the hash names the
    code wherever it is installed."""
    described = sleeves_manifest(config)
    return {
        name: {
            "kind": described[name]["kind"],
            "sha256": described[name]["sha256"],
            "params": described[name]["params"],
            "weight": weights.get(name),
        }
        for name in described
    }


def config_from_snapshot(content: dict[str, Any], *, base_dir: Path | None = None) -> LoadedConfig:
    """The config a snapshot's content describes (``base_dir``: where a user sleeve's
    relative file is found). A sleeve whose code is not the code the snapshot names (its
    sha256) is a ``ConfigError``: the decisions it made cannot be reproduced."""
    plain = copy.deepcopy(content["config"])
    config = loader.build(Config, plain, lambda key_path: f"snapshot: {'.'.join(key_path)}")
    config = attrs.evolve(config, signals=with_origin(config.signals, base_dir or Path.cwd()))
    named = content.get("sleeves", {})
    for name, now in sleeves_manifest(config).items():
        wanted = named.get(name, {}).get("sha256")
        if wanted is not None and wanted != now["sha256"]:
            raise ConfigError(
                f"snapshot: sleeve {name!r} was code sha256 {wanted}, {now['source']} is "
                f"{now['sha256']}"
            )
    return LoadedConfig(
        config=config, path=None, env_keys={}, hash=config_hash(loader.to_plain(config))
    )
