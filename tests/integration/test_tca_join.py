"""The README's jq join of each order's decision with its fills and TCA, run with jq over the
records of a real paper run: one row per order with fills, equal to the order's final TCA
line, its arrival quote beside it."""

from __future__ import annotations

import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import read_jsonl, run
from tests.integration.test_readme_jq import jq_args, readme_recipes

pytestmark = pytest.mark.skipif(
    shutil.which("jq") is None and not os.environ.get("CI"),
    reason="jq is not installed (.ci/run installs it; apt-get install jq)",
)

PAPER = ("run", "--execution-mode", "paper", "--trading-mode", "aggressive", "--duration", "4s")


def test_the_join_recipe_gives_each_decided_order_its_final_fills_and_tca(workdir: Path) -> None:
    result = run(workdir, *PAPER)
    assert result.returncode == 0, result.stderr[-2000:]
    [recipe] = [r for r in readme_recipes() if "ORDER_FILLED" in r]
    records = workdir / "runtime" / "decisions.jsonl"
    done = subprocess.run(["jq", *jq_args(recipe, "")], input=records.read_bytes(),
                          capture_output=True, check=False, timeout=30)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    rows = [orjson.loads(x) for x in done.stdout.splitlines()]

    final: dict[str, dict] = {}
    for line in read_jsonl(workdir / "runtime" / "tca.jsonl"):
        final[line["client_order_id"]] = line
    decided = {r["intent"]["client_order_id"]: r for r in read_jsonl(records)
               if r.get("decision_id") and r.get("intent")}  # fmt: skip
    with_fills = {c for c, t in final.items() if c in decided and t["fills"]}
    assert with_fills and {r["client_order_id"] for r in rows} == with_fills
    for row in rows:
        tca, decision = final[row["client_order_id"]], decided[row["client_order_id"]]
        assert row["decision_id"] == decision["decision_id"] == tca["decision_id"]
        assert Decimal(row["filled_qty"]) == Decimal(tca["filled_qty"])
        assert Decimal(row["fill_vwap"]) == Decimal(tca["fill_vwap"])
        assert (row["spread_source"], row["spread_paid_bps"], row["is_bps"]) == (
            tca["spread_source"], tca["spread_paid_bps"], tca["is_bps"])  # fmt: skip
        assert row["bid"] < row["ask"]  # the arrival quote, from the decision line
        assert row["bid"] == pytest.approx(float(tca["quote"]["bid"]))
