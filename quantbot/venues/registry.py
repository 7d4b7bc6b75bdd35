"""The venues quantbot can trade on: ``venue.name`` in the config → the package that builds it.

Each venue package tells the rest of quantbot what it needs to know in one record,
``PACKAGE`` in its ``build.py`` (a ``VenuePackage``): how to build its adapter from the
config (credentials from the environment variables its section names, the paper/live
account check), which execution mode its configured account is, the checks of its section
in the config's second pass, and, when it has market data of its own, how its bars arrive.

Adding a venue: a package ``venues/<name>/`` whose ``build.py`` holds its ``PACKAGE``, its
section in ``config/venues.py``, and one row in ``VENUES``. A row names a module rather than
importing it: the config reads this table (``venue.name`` and the second pass) while each
builder reads the config, so importing on demand keeps the two from importing each other.
A ``build.py`` never imports a broker SDK at module level: the second pass loads them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

import attrs

if TYPE_CHECKING:
    from quantbot.clock import Clock
    from quantbot.config.risk import Problem
    from quantbot.config.schema import Config
    from quantbot.venues.base import OrderVenue, PushSource

VENUES: Mapping[str, str] = MappingProxyType(
    {
        "sim": "quantbot.venues.sim.build",  # the embedded paper venue
        "ccxt": "quantbot.venues.ccxt.build",  # crypto exchanges through ccxt
        "alpaca": "quantbot.venues.alpaca.build",  # US equities through alpaca-py
    }
)


class Build(Protocol):
    def __call__(
        self,
        config: Config,
        *,
        mode: str,
        clock: Clock,
        state_dir: Path,
        environ: Mapping[str, str],
        sync_each_change: bool,
    ) -> OrderVenue:
        """The venue for ``mode`` (paper, shadow or live); a StartupError naming what is
        wrong (a missing credential, a paper run on a live account) otherwise."""
        ...


@attrs.frozen
class BarSource:
    """How a venue's bars reach the daemon: ``push`` (its websocket) when it has one the
    config allows, else polled every ``poll_interval_s``; ``why`` says which, for the
    run's manifest."""

    poll_interval_s: float
    push: PushSource | None
    why: str


def _no_problems(config: Config) -> Iterator[Problem]:
    return iter(())


def _ask_the_venue(state_dir: Path) -> str | None:
    return None


@attrs.frozen
class VenuePackage:
    build: Build
    # "paper" for a sandbox, testnet or paper account, else "live": the mode `cancel-all`
    # runs in when no daemon does (cancelling adds no risk, so it needs no go-live).
    account_mode: Callable[[Config], str]
    # Its section's checks in the config's second pass, as (key path, value, problem); every
    # package's run, whichever venue is configured, as the first pass checks every section.
    problems: Callable[[Config], Iterator[Problem]] = _no_problems
    # Its bars when ``market.source = "venue"``; None: no market data of its own.
    bars: Callable[[Config, Clock], BarSource] | None = None
    # Its market-data fallback ([providers] data_fallback = "venue_rest"): a second REST
    # endpoint of its bars, with ``bars(symbol, since_ns=)`` and ``close()``; None: not built.
    fallback_bars: Callable[[Config, Clock], Any] | None = None
    # Why `cancel-all` without a daemon need not ask the venue (nothing was ever sent from
    # this state dir), or None: ask it.
    nothing_sent: Callable[[Path], str | None] = _ask_the_venue


def venue_package(name: str) -> VenuePackage:
    """The package of ``name``, one of ``VENUES`` (the config allows no other)."""
    package: VenuePackage = importlib.import_module(VENUES[name]).PACKAGE
    return package
