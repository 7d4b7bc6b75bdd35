"""Case 7: the journal is gone while the venue still holds positions (and state/ shows there
was a journal). Nothing is re-imported as ours and no new risk is traded: the venue's
inventory is adopted as external and only risk-reducing orders go until `quantbot resume`.

The daemon runs as a subprocess on the embedded paper venue, whose book lives in state/ and
so outlives the journal, as a real broker's account would."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import journal_events, read_jsonl, run

pytestmark = pytest.mark.e2e

PAPER = ("run", "--execution-mode", "paper", "--trading-mode", "aggressive")


def _positions(workdir: Path) -> dict:
    from quantbot.venues.sim.book import load_book

    book = load_book(workdir / "state" / "sim_venue.json")
    return {s: p.qty for s, p in book.positions.items() if p.qty}


def test_a_missing_journal_adopts_the_venue_as_external_and_trades_reduce_only(
    workdir: Path,
) -> None:
    first = run(workdir, *PAPER, "--duration", "3s", timeout=60)
    assert first.returncode == 0, first.stderr
    held = _positions(workdir)
    assert held, "the first run left no position to lose track of"
    old_fills = {e["fill_id"] for e in journal_events(workdir, "FILL")}
    (workdir / "state" / "journal.jsonl").unlink()  # lost: a bad disk, a careless rm
    records = workdir / "runtime" / "decisions.jsonl"
    before = len(read_jsonl(records))

    second = run(workdir, *PAPER, "--duration", "3s", timeout=60)

    assert second.returncode == 0, second.stderr
    control = orjson.loads((workdir / "state" / "control.json").read_bytes())
    assert control["reduce_only"] is True
    assert "RECONCILE_JOURNAL_MISSING" in control["reduce_only_reason"]
    events = journal_events(workdir)
    (baseline,) = [e for e in events if e["type"] == "BASELINE"]
    assert {s: str(q) for s, q in held.items()} == {
        s: h["qty"] for s, h in baseline["positions"].items()
    }
    # The old fills are not imported again as if they were new.
    assert not old_fills & {e["fill_id"] for e in events if e["type"] == "FILL"}
    [manifest] = sorted((workdir / "runtime" / "manifests").glob("*.json"))[-1:]
    startup = orjson.loads(manifest.read_bytes())["startup"]
    assert "RECONCILE_JOURNAL_MISSING" in [f["code"] for f in startup["reconcile"]]
    alerts = read_jsonl(workdir / "runtime" / "alerts.jsonl")
    assert "ALERT_EXTERNAL_INVENTORY" in [a["alert"] for a in alerts]
    # No new risk: every order the second run sent only reduced a position.
    after = read_jsonl(records)[before:]
    sent = [r for r in after if r.get("intent")]
    assert all(r["intent"].get("reducing") for r in sent), sent[:3]
    assert any((r.get("reason") or {}).get("code") == "REDUCE_ONLY_ACTIVE" for r in after), (
        "no decision was refused for reduce-only"
    )


def test_a_missing_journal_with_nothing_at_the_venue_is_reported_and_trading_goes_on(
    workdir: Path,
) -> None:
    state = workdir / "state"
    state.mkdir(mode=0o700)
    (state / "journal.began").write_bytes(b"")  # there was a journal; the venue is empty

    result = run(workdir, *PAPER, "--duration", "1s", timeout=60)

    assert result.returncode == 0, result.stderr
    control = state / "control.json"
    assert not control.exists() or orjson.loads(control.read_bytes())["reduce_only"] is False
    [manifest] = (workdir / "runtime" / "manifests").glob("*.json")
    startup = orjson.loads(manifest.read_bytes())["startup"]
    (missing,) = [f for f in startup["reconcile"] if f["code"] == "RECONCILE_JOURNAL_MISSING"]
    assert missing["adopted_positions"] == {} and missing["adopted_orders"] == 0
