"""Replays never compact (issue 23): `quantbot replay` over the shared daily data writes the
same records, journal, TCA, summary and state files byte for byte whether compaction is on
at its most eager (every event, no kept window) or off, and leaves no archive; only the run
id, the config hash and the snapshot hashes it names differ (the config differs)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA
from tests.integration.daemon import REPO_ROOT, command, quantbot_env

TO = "2003-12-31"
FILES = ("decisions.jsonl", "tca.jsonl", "summary.json", "trades.csv", "state/journal.jsonl",
         "state/daily_risk.jsonl", "state/sim_venue.json", "state/sim_venue.log.jsonl")  # fmt: skip
EAGER = {"QUANTBOT__COMPACTION__MIN_EVENTS": "1", "QUANTBOT__COMPACTION__KEEP_HOURS": "0"}
OFF = {"QUANTBOT__COMPACTION__ENABLED": "false"}


def _replay(workdir: Path, out: str, env: dict[str, str]) -> Path:
    data = [str(SHARED_DATA / "daily" / f"{s}.csv") for s in ("AAPL", "MSFT")]
    base = {k: v for k, v in quantbot_env().items() if not k.startswith("QUANTBOT__")}
    result = subprocess.run(
        command("replay", "--data", *data, "--to", TO, "--out", str(workdir / out)),
        cwd=workdir, env={**base, **env}, text=True, capture_output=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    [rid] = (workdir / out).iterdir()
    return rid


def _normalised(run: Path, name: str) -> bytes:
    data = (run / name).read_bytes()
    first = (run / "decisions.jsonl").read_bytes().split(b"\n", 1)[0]
    config_hash = re.search(rb'"config_hash":"([0-9a-f]+)"', first)
    assert config_hash is not None
    data = data.replace(run.name.encode(), b"RUN").replace(config_hash.group(1), b"HASH")
    return re.sub(rb'"snapshot":"[0-9a-f]{16}"', b'"snapshot":"S"', data)


@pytest.mark.e2e
def test_a_replay_is_byte_identical_with_compaction_on_or_off(tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / "config.toml", tmp_path / "config.toml")
    eager = _replay(tmp_path, "eager", EAGER)
    off = _replay(tmp_path, "off", OFF)

    assert (eager / "state" / "journal.jsonl").stat().st_size > 10_000, "it traded"
    for name in FILES:
        assert _normalised(eager, name) == _normalised(off, name), name
    for run in (eager, off):
        assert not list((run / "state").glob("*.archive")), "a replay never compacts"
        first = (run / "state" / "journal.jsonl").read_bytes().split(b"\n", 1)[0]
        assert b'"type":"SNAPSHOT"' not in first
