"""The golden replays: what a replay decides and records does not move when the pipeline is
made faster (issue 23: records, journal, TCA and summary byte-identical unless a change is
stated and justified).

A replay of the real daily bars in ../shared/data, as a user runs it, is digested file by file
and compared with the digests the pipeline wrote before the hot-path work
(``golden/replay_digests.json``). The config hash and the replay id (derived from it) are
blanked before digesting: a new config section elsewhere changes them without changing a
decision. Any other byte that moves fails here, naming the file.

A change to what a replay writes that is meant (a new record field, a fix that trades
differently) is stated in its commit and the digests rewritten with:

    PYTHONPATH=$PWD python -m tests.integration.test_replay_golden --write
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import REPO_ROOT, run

DAILY = REPO_ROOT.parent / "shared" / "data" / "daily"
GOLDEN = Path(__file__).parent / "golden" / "replay_digests.json"
FILES = ("decisions.jsonl", "state/journal.jsonl", "tca.jsonl", "summary.json")
ARGS = (
    "--config", str(REPO_ROOT / "config.toml"),
    "--data", str(DAILY / "AAPL.csv"), str(DAILY / "MSFT.csv"), str(DAILY / "IBM.csv"),
    "--to", "2003-12-31",
)  # fmt: skip


def replay(workdir: Path) -> Path:
    result = run(workdir, "replay", *ARGS, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    [out] = [line.split()[-1] for line in result.stdout.splitlines() if "records:" in line]
    return workdir / Path(out).parent


def digests(out: Path) -> dict[str, str]:
    """sha256 of each golden file, the config hash, the replay id and the snapshot ids blanked
    (a snapshot's id hashes its content, the resolved config included: a config section
    another feature adds changes the ids, not what the replay decided; their order stays)."""
    manifest = orjson.loads(next((out / "manifests").glob("*.json")).read_bytes())
    blank = [(manifest["config_hash"].encode(), b"<config-hash>"), (out.name.encode(), b"<id>")]
    for n, line in enumerate((out / "snapshots.jsonl").read_bytes().splitlines()):
        blank.append((orjson.loads(line)["snapshot"].encode(), f"<snapshot-{n}>".encode()))
    found = {}
    for name in FILES:
        data = (out / name).read_bytes()
        for old, new in blank:
            data = data.replace(old, new)
        found[name] = hashlib.sha256(data).hexdigest()
    return found


@pytest.mark.e2e
def test_a_replay_writes_the_golden_records_journal_tca_and_summary(workdir: Path) -> None:
    out = replay(workdir)
    journal = (out / "state" / "journal.jsonl").read_bytes()
    assert journal.count(b'"type":"FILL"') > 100  # orders, fills and exits are in the bytes
    assert digests(out) == orjson.loads(GOLDEN.read_bytes())["digests"]


def _write() -> None:
    with tempfile.TemporaryDirectory(prefix="quantbot-golden-") as tmp:
        found = digests(replay(Path(tmp)))
    GOLDEN.write_bytes(
        orjson.dumps(
            {"replay": "AAPL MSFT IBM daily, to 2003-12-31", "digests": found},
            option=orjson.OPT_INDENT_2,
        )
        + b"\n"
    )
    print(f"wrote {GOLDEN}")


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    _write()
