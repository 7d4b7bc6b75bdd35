"""The operator's views of a running daemon: what watches it without trading (notifications,
the live dashboard). Each is handed the run's feed (``ops.feed``) and a way to read the status
snapshot; none is handed anything that can place or cancel an order.

A view's ``start`` runs once the daemon is up (after reconciliation, before the first bar);
its ``stop`` once everything is flushed at shutdown, and must return within a bounded time
whatever its far end does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import attrs

from quantbot.clock import Clock
from quantbot.config.schema import LoadedConfig
from quantbot.ops.feed import RunFeed

Status = Callable[[], dict[str, Any]]  # the status snapshot now, as state/status.json holds it


class View(Protocol):
    name: str

    async def start(self, feed: RunFeed, status: Status) -> None: ...

    async def stop(self) -> None: ...


@attrs.frozen
class ViewOptions:
    """What the command line adds to the config's own switches."""

    dashboard: bool = False


def build_views(
    loaded: LoadedConfig,
    clock: Clock,
    state_dir: Path,
    runtime_dir: Path,
    options: ViewOptions = ViewOptions(),
) -> list[View]:
    """The views this run's config and command line ask for (none by default)."""
    views: list[View] = []
    if loaded.config.notify.any_enabled:
        from quantbot.notify.view import NotifyView  # noqa: PLC0415 -- aiohttp only when on

        views.append(NotifyView(loaded, clock, state_dir, runtime_dir))
    dashboard = loaded.config.dashboard
    if options.dashboard or dashboard.enabled:
        from quantbot.dashboard.view import DashboardView  # noqa: PLC0415 -- aiohttp on demand

        views.append(DashboardView(state_dir, port=dashboard.port))
    return views
