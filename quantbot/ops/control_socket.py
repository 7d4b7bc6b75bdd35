"""The daemon's local control socket: ``state/control.sock``, owner-only.

One JSON object per line in, one per line out. Commands: ``ping``, ``status`` and
``cancel_all`` (optional ``symbol``). ``quantbot cancel-all`` uses it while the daemon runs, so
the cancels go through the daemon's own OMS, journal and ledger rather than racing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from loguru import logger

from quantbot.domain.errors import StartupError
from quantbot.fsutil import OWNER_ONLY_FILE, UnsafePathError

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
MAX_REQUEST = 64 * 1024
MAX_SOCKET_PATH = 107  # sun_path is 108 bytes on Linux, NUL included (104 on macOS)


class ControlServer:
    def __init__(self, path: Path, handlers: dict[str, Handler]) -> None:
        self.path = path
        self._handlers = handlers
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        if len(os.fsencode(self.path)) > MAX_SOCKET_PATH:
            raise StartupError(
                f"control socket path {self.path} is {len(os.fsencode(self.path))} bytes; "
                f"Unix sockets allow {MAX_SOCKET_PATH}. Use a shorter run.state_dir."
            )
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a socket left by a killed daemon (the lock proves it's dead)
        old = os.umask(0o177)  # the socket is created 0600: only the owner may connect
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=MAX_REQUEST
            )
        finally:
            os.umask(old)
        st = os.lstat(self.path)  # state/ is owner-only, so nobody else can swap it meanwhile
        if not stat.S_ISSOCK(st.st_mode):
            raise UnsafePathError(f"{self.path} is not the control socket just created")
        if stat.S_IMODE(st.st_mode) != OWNER_ONLY_FILE:
            os.chmod(self.path, OWNER_ONLY_FILE)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            reply = await self._dispatch(line)
            writer.write(orjson.dumps(reply) + b"\n")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            logger.warning("control socket: client went away: {}", e)
        finally:
            writer.close()

    async def _dispatch(self, line: bytes) -> dict[str, Any]:
        try:
            request = orjson.loads(line)
        except orjson.JSONDecodeError:
            return {"ok": False, "error": "request must be one JSON object per line"}
        if not isinstance(request, dict):
            return {"ok": False, "error": "request must be a JSON object"}
        handler = self._handlers.get(request.get("cmd", ""))
        if handler is None:
            known = ", ".join(sorted(self._handlers))
            return {"ok": False, "error": f"unknown cmd {request.get('cmd')!r} (known: {known})"}
        return await handler(request)


def send_command(path: Path, request: dict[str, Any], *, timeout_s: float = 30.0) -> dict:
    """Blocking client for the CLI. Raises ConnectionError when no daemon listens."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        sock.connect(str(path))
        sock.sendall(orjson.dumps(request) + b"\n")
        chunks = []
        while not chunks or not chunks[-1].endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        raise ConnectionError(f"{path}: the daemon closed the connection without replying")
    return orjson.loads(data)
