"""`quantbot report tca --runtime <a replay>` without --date reports the replay's whole span
(it used to report today: zero orders, exit 0)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.conftest import SHARED_DATA
from tests.integration.daemon import run

pytestmark = pytest.mark.e2e


def test_report_on_a_replay_defaults_to_the_replays_span(workdir: Path) -> None:
    replayed = run(
        workdir, "replay", "--data", str(SHARED_DATA / "daily" / "IBM.csv"),
        "--from", "2003-01-01", "--to", "2003-03-31", "--out", str(workdir / "out"),
    )  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr
    [replay_dir] = (workdir / "out").glob("rp-*")
    summary = orjson.loads((replay_dir / "summary.json").read_bytes())
    assert summary["orders"]["sent"] > 0

    reported = run(workdir, "report", "tca", "--runtime", str(replay_dir))

    assert reported.returncode == 0, reported.stderr
    assert f"{replay_dir.name} (2003-01-02 .. 2003-03-31)" in reported.stderr
    report = orjson.loads((replay_dir / "reports" / "tca-report-all.json").read_bytes())
    assert report["overall"]["orders"] == summary["orders"]["sent"]
    assert f"all: {summary['orders']['sent']} orders" in reported.stderr
