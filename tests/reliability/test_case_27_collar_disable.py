"""Case 27: a symbol whose orders keep hitting the price collar is disabled until a person
runs ``quantbot resume --symbol``, with its own reason code and a SYMBOL_DISABLED event; the
disable survives a restart. Driven through the daemon as a subprocess on the embedded paper
venue, with a collar so tight that every order of the synthetic market hits it."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import REPO_ROOT, read_jsonl, run

pytestmark = pytest.mark.e2e

PAPER = ("run", "--execution-mode", "paper", "--trading-mode", "aggressive", "--duration", "3s")
MAX_BLOCKS = 3
ENV = {
    # Any move at all inside the window is "too far": every order is a collar block.
    "QUANTBOT__PRETRADE__COLLAR_WINDOW_BPS": "0.0001",
    "QUANTBOT__PRETRADE__MAX_COLLAR_BLOCKS": str(MAX_BLOCKS),
    "QUANTBOT__PRETRADE__COLLAR_BLOCK_WINDOW_S": "3600",
}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(REPO_ROOT / "config.toml", tmp_path / "config.toml")
    return tmp_path


def _paper_run(workdir: Path) -> list[dict]:
    decisions = workdir / "runtime" / "decisions.jsonl"
    decisions.unlink(missing_ok=True)
    result = run(workdir, *PAPER, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    return read_jsonl(decisions)


def _order_codes(records: list[dict], symbol: str) -> list[str]:
    return [
        r["order"]["reason"]["code"]
        for r in records
        if r.get("symbol") == symbol and r.get("order") and r["order"].get("reason")
    ]


def _disabled(workdir: Path) -> list[str]:
    return orjson.loads((workdir / "state" / "control.json").read_bytes())["disabled_symbols"]


def test_repeated_collar_blocks_disable_the_symbol_until_resume_symbol(workdir: Path) -> None:
    records = _paper_run(workdir)
    events = [r for r in records if r.get("event") == "SYMBOL_DISABLED"]
    assert events, "no symbol was disabled by repeated collar blocks"
    symbol = events[0]["symbol"]
    assert events[0]["reason"]["code"] == "PRICE_COLLAR_DISABLE"
    assert events[0]["reason"]["count"] == MAX_BLOCKS + 1
    assert events[0]["reason"]["limit"] == MAX_BLOCKS
    codes = _order_codes(records, symbol)
    disabled_at = codes.index("PRICE_COLLAR_DISABLE")
    assert codes[:disabled_at] == ["PRICE_COLLAR_BLOCK"] * MAX_BLOCKS
    later = codes[disabled_at + 1 :]
    assert later and set(later) == {"SYMBOL_DISABLED_BLOCK"}, later
    assert symbol in _disabled(workdir)
    # No order of the symbol reached the venue: nothing was journaled for it.
    journal = read_jsonl(workdir / "state" / "journal.jsonl")
    assert not [e for e in journal if e.get("symbol") == symbol]

    # A restart does not clear it: only a person does.
    codes = _order_codes(_paper_run(workdir), symbol)
    assert codes and set(codes) == {"SYMBOL_DISABLED_BLOCK"}, codes

    resumed = run(workdir, "resume", "--symbol", symbol)
    assert resumed.returncode == 0, resumed.stderr
    assert symbol not in _disabled(workdir)
    codes = _order_codes(_paper_run(workdir), symbol)
    # Re-enabled with its count from zero: the collar judges its orders again.
    assert codes[:MAX_BLOCKS] == ["PRICE_COLLAR_BLOCK"] * MAX_BLOCKS, codes
