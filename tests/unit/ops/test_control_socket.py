"""The control socket: owner-only, and a path the kernel cannot bind is a clear start error."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from quantbot.domain.errors import StartupError
from quantbot.ops.control_socket import MAX_SOCKET_PATH, ControlServer


async def _pong(_request: dict) -> dict:
    return {"ok": True}


async def test_the_socket_is_owner_only(tmp_path: Path) -> None:
    server = ControlServer(tmp_path / "c.sock", {"ping": _pong})
    await server.start()
    try:
        assert stat.S_IMODE((tmp_path / "c.sock").stat().st_mode) == 0o600
    finally:
        await server.close()


async def test_a_state_dir_too_deep_for_a_unix_socket_is_named_at_start(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * (MAX_SOCKET_PATH - len(str(tmp_path))))
    deep.mkdir()
    with pytest.raises(StartupError, match=r"Use a shorter run.state_dir") as caught:
        await ControlServer(deep / "control.sock", {"ping": _pong}).start()
    assert str(deep / "control.sock") in str(caught.value)
    assert not (deep / "control.sock").exists()
