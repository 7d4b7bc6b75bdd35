"""The live local dashboard as an operator's view (``daemon.views``): it watches the run's
feed and serves what it saw (``dashboard.server``) to a browser on this machine.

At start it picks a random token, serves on 127.0.0.1 (``[dashboard] port``, 0 = a free
one), prints the URL with the token once on stderr (not through the logger: the log file
must never hold it) and writes ``state/dashboard.json`` (url, port, token) owner-only; at
stop the file is removed. The feed's subscriber only appends to a bounded inbox (a full
inbox drops the item and counts it, never waits); the page state is built on this view's
own task, which then pushes each change to the open pages. Positions and orders start from
the journal as it stands at start (``dashboard.state``).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
from pathlib import Path
from typing import Any

import orjson
from loguru import logger

from quantbot.config.dashboard import LOOPBACK
from quantbot.dashboard.server import DashboardServer
from quantbot.dashboard.state import DashboardState
from quantbot.domain.errors import StartupError
from quantbot.fsutil import atomic_write, ensure_private_dir
from quantbot.oms.journal import read_journal
from quantbot.oms.ledger import Ledger
from quantbot.ops.feed import RunFeed

INBOX = 10_000
STOP_TIMEOUT_S = 3.0
FILE_NAME = "dashboard.json"


class DashboardView:
    name = "dashboard"

    def __init__(self, state_dir: Path, *, port: int = 0, announce: Any = None) -> None:
        self._path = state_dir / FILE_NAME
        self._journal = state_dir / "journal.jsonl"
        self._port = port
        self._announce = announce or _print_url
        self.state = DashboardState()
        self._inbox: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(maxsize=INBOX)
        self._feed: RunFeed | None = None
        self._task: asyncio.Task[None] | None = None
        self.server: DashboardServer | None = None
        self.url = ""

    async def start(self, feed: RunFeed, status: Any) -> None:
        # The positions and orders so far, as the daemon rebuilt them at its start (nothing
        # is appended between here and the subscription below: both run before the first bar).
        if self._journal.exists():
            replay = read_journal(self._journal, repair=False)
            self.state = DashboardState(Ledger.from_journal(replay, self._journal))
        token = secrets.token_urlsafe(32)
        self.server = DashboardServer(token, self.state.snapshot, port=self._port)
        try:
            await self.server.start()
        except OSError as e:  # the port is taken, or not ours to bind
            await self.server.stop()
            where = f"{LOOPBACK}:{self._port}"
            raise StartupError(
                f"dashboard: cannot listen on {where}: {e.strerror or e} "
                "(set [dashboard] port = 0 for a free port)"
            ) from e
        self.state.apply("status", status())
        port = self.server.port
        self.url = f"http://{LOOPBACK}:{port}/?token={token}"
        ensure_private_dir(self._path.parent)
        atomic_write(
            self._path, orjson.dumps({"url": self.url, "port": port, "token": token}) + b"\n"
        )
        self._feed = feed
        feed.subscribe(self._take)
        self._task = asyncio.ensure_future(self._pump())
        self._announce(self.url)
        logger.info("dashboard serving on {}:{} (URL and token in {})", LOOPBACK, port, self._path)

    def _take(self, kind: str, payload: dict[str, Any]) -> None:
        """The feed's subscriber: enqueue and return; a full inbox loses the item, counted."""
        try:
            self._inbox.put_nowait((kind, payload))
        except asyncio.QueueFull:
            self.state.dropped += 1

    async def _pump(self) -> None:
        assert self.server is not None
        while True:
            kind, payload = await self._inbox.get()
            try:
                for event, data in self.state.apply(kind, payload):
                    self.server.publish(event, data)
            except (KeyError, TypeError, ValueError, ArithmeticError) as e:  # an odd item's shape
                # one item the page cannot show must not blank the page for the rest
                logger.error("dashboard could not show a {} item: {}", kind, type(e).__name__)
            finally:
                self._inbox.task_done()

    async def stop(self) -> None:
        """The items already taken reach the open pages (the run's stop among them), then
        their streams end and the server closes; bounded whatever a page does."""
        if self._feed is not None:
            self._feed.unsubscribe(self._take)
        if self._task is not None and not self._task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._inbox.join(), STOP_TIMEOUT_S / 3)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.server.stop(), STOP_TIMEOUT_S)
        self._path.unlink(missing_ok=True)


def _print_url(url: str) -> None:
    """The one place the token is shown: the operator's terminal, once."""
    print(f"dashboard: {url}", file=sys.stderr, flush=True)
