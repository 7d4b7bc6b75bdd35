"""The second golden replay: the bench's own workload (issue 23), where the fast paths work.

The daily golden (``test_replay_golden``) has few bars and many stages; this one is the
seeded minute bars of the replay bench through the bench strategy (EMA(10)/EMA(30) stop and
reverse, one unit), with the bench's config, as ``make bench`` plays it: thousands of plain
bars between orders, an order and a fill every few dozen bars. Once with the shipped deadband
and once with deadband 0 (every stage on every bar). Each file a replay writes (decisions,
journal, TCA, summary) is digested, with the config hash, replay id and snapshot ids blanked,
and compared with the digests pinned before the issue-23 fast paths. A byte that moves fails
here, naming the file.

A change that is meant is stated in its commit and the digests rewritten with:

    PYTHONPATH=$PWD python -m tests.integration.test_replay_golden_bench --write
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import orjson
import pytest

from bench import replay_bench as rb
from bench import strategies as st
from tests.integration.test_replay_golden import digests

REPO_ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden" / "bench_digests.json"
BARS = 4_000
CASES = ("deadband", "deadband0")


def _replay(case: str, tmp: Path) -> tuple[dict[str, str], dict[str, int]]:
    data = tmp / "bars.f64"
    rb.write_bars(data, BARS, "SIMA", seed=7)
    config, _, _ = rb.bench_config(REPO_ROOT / "config.toml", deadband_zero=case == "deadband0")
    out = tmp / case
    out.mkdir()
    result = asyncio.run(
        st.run_quantbot(
            config, rb.read_columns(data, BARS), start_ns=rb.START_NS, interval_s=60, keep=out
        )
    )
    return digests(out), result["counters"]


@pytest.mark.e2e
@pytest.mark.parametrize("case", CASES)
def test_the_bench_replay_writes_the_golden_bytes(case: str, tmp_path: Path) -> None:
    found, counters = _replay(case, tmp_path)
    assert counters["fills"] > 100  # orders and fills are in the bytes, not only plain bars
    assert found == orjson.loads(GOLDEN.read_bytes())[case]


def _write() -> None:
    pinned = {"replay": f"bench strategy, {BARS} seeded minute bars of SIMA, seed 7"}
    for case in CASES:
        with tempfile.TemporaryDirectory(prefix="quantbot-golden-bench-") as tmp:
            pinned[case] = _replay(case, Path(tmp))[0]
    GOLDEN.write_bytes(orjson.dumps(pinned, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {GOLDEN}")


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    _write()
