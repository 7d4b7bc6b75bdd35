"""A start that fails after the venue connected (here: a daily risk ledger that cannot be
read, which refuses the start) closes the venue's session on the way out: the user sees the
one error that matters, not ccxt's and aiohttp's warnings about an unclosed connector."""

from __future__ import annotations

from pathlib import Path

from tests.integration.daemon import run
from tests.integration.exit_rig import COMMON, SPOT
from tests.integration.loopback import ServerThread


def test_a_refused_start_after_the_connect_closes_the_venue(workdir: Path) -> None:
    state = workdir / "state"
    state.mkdir(mode=0o700)
    ledger = state / "daily_risk.jsonl"
    ledger.write_bytes(b"not json at all\n{}\n")  # a corrupt line that is not the last
    ledger.chmod(0o600)
    with ServerThread(SPOT.server()) as srv:
        env = {**COMMON, **SPOT.env, **SPOT.url_env(srv.url), **SPOT.credentials}
        result = run(workdir, "run", "--execution-mode", "paper", "--duration", "3s", env=env)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "daily_risk.jsonl:1: daily risk ledger line is corrupt" in result.stderr
    assert "Unclosed" not in result.stderr, result.stderr[-3000:]
    assert "explicit call to the .close() coroutine" not in result.stderr
