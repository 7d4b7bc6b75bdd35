"""The venue the config and execution mode ask for, built by its package (``registry``):
the embedded paper venue (its book in state/ for paper, in memory for shadow), or a real
venue through ccxt or alpaca-py.

A real venue's SDK is imported only when that venue is configured (ccxt alone takes about a
second to import), so the default embedded venue starts fast. Credentials come only from the
environment variables the config names; a missing or empty one stops start-up naming the
variable, and the values are handed to the adapter, never logged or recorded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from quantbot.clock import Clock
from quantbot.config.schema import Config
from quantbot.venues.base import OrderVenue
from quantbot.venues.registry import venue_package


def make_venue(
    config: Config,
    *,
    mode: str,
    clock: Clock,
    state_dir: Path,
    environ: Mapping[str, str] | None = None,
    sync_each_change: bool = True,
) -> OrderVenue:
    """The configured venue. ``sync_each_change=False`` (a replay) lets the embedded venue's
    book reach the disk at close instead of at each change."""
    return venue_package(config.venue.name).build(
        config,
        mode=mode,
        clock=clock,
        state_dir=state_dir,
        environ=os.environ if environ is None else environ,
        sync_each_change=sync_each_change,
    )


def account_mode(config: Config) -> str:
    """The execution mode that matches the configured account ("paper" for the embedded venue,
    a sandbox or a paper account; "live" otherwise): what `cancel-all` uses when no daemon
    runs. Cancelling adds no risk, so it needs no go-live."""
    return venue_package(config.venue.name).account_mode(config)
