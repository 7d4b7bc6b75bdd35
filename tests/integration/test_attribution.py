"""One definition of a sleeve's PnL: a replay's summary (and its report.html) and the TCA
report over the same replay say the same per sleeve. They used to disagree by tens of
thousands on the shared daily data (each order's PnL to the last close booked to the sleeve
of the order, against close-to-close shares of held positions)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.conftest import SHARED_DATA
from tests.integration.daemon import run

pytestmark = pytest.mark.e2e


def test_summary_and_tca_report_agree_on_each_sleeves_pnl(workdir: Path) -> None:
    daily = SHARED_DATA / "daily"
    replayed = run(workdir, "replay", "--data", str(daily), "--out", str(workdir / "out"))
    assert replayed.returncode == 0, replayed.stderr
    [replay_dir] = (workdir / "out").glob("rp-*")
    summary = orjson.loads((replay_dir / "summary.json").read_bytes())
    reported = run(
        workdir, "report", "tca", "--runtime", str(replay_dir), "--date", "all",
        "--out", str(workdir / "reports"),
    )  # fmt: skip
    assert reported.returncode == 0, reported.stderr
    report = orjson.loads((workdir / "reports" / "tca-report-all.json").read_bytes())

    by_sleeve = report["groups"]["sleeve"]
    attribution = summary["attribution_by_sleeve"]
    for sleeve in ("trend", "mean_reversion"):
        assert by_sleeve[sleeve]["net_pnl"] == pytest.approx(
            attribution["pnl"][sleeve], abs=0.01
        ), sleeve
    assert set(by_sleeve) == set(attribution["pnl"])
    for sleeve, group in by_sleeve.items():
        assert group["net_pnl"] == pytest.approx(attribution["pnl"][sleeve], abs=0.01)
        assert group["gross_pnl"] == pytest.approx(attribution["gross"][sleeve], abs=0.01)
    # And together they are the run's PnL: nothing but rounding left unexplained.
    assert abs(attribution["unexplained"]) <= 0.05 * len(by_sleeve)
    html = (replay_dir / "report.html").read_text()
    assert all(sleeve in html for sleeve in by_sleeve)
