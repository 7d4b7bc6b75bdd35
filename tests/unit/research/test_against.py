"""Live-vs-replay diff: what a run left on disk read back (run_records) and the comparison
of its decisions, orders and fills with a replay's (against), on records written by hand."""

from __future__ import annotations

import copy
import gzip
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from quantbot.clock import iso_utc
from quantbot.config.schema import load_config, redacted
from quantbot.domain.errors import DataError
from quantbot.marketdata.loaders import load_symbols
from quantbot.research.against import (
    build_report,
    compare_decisions,
    compare_fills,
    compare_orders,
    describe,
)
from quantbot.research.run_records import (
    bar_interval_s,
    manifest_path,
    read_run,
    run_config,
    with_run_instruments,
    write_bars,
)

T0 = 1_796_668_617_300_000_000  # 2026-12-07T18:36:57.300000Z
STEP = 50_000_000  # 0.05 s bars


iso = iso_utc


def decision(symbol: str, i: int, *, run_id: str = "run-1", **changes: Any) -> dict[str, Any]:
    """A decision record shaped like the decision step's (the keys the diff reads)."""
    ts = T0 + i * STEP
    record: dict[str, Any] = {
        "ts": f"2026-12-07T18:37:{i:02d}.123456Z",
        "run_id": run_id,
        "execution_mode": "paper",
        "profile": "conservative",
        "config_hash": "a" * 64 if run_id == "run-1" else "b" * 64,
        "decision_id": f"{symbol}@{ts}",
        "bar_ts": iso(ts),
        "symbol": symbol,
        "bar": {"o": 100.0 + i, "h": 101.0 + i + 1 / 3, "l": 99.0 + i, "c": 100.5 + i, "v": 1234.5},
        "intent": None,
        "reason": {"code": "NETTING_DEADBAND"},
        "clamps": [],
        "sleeves": {
            "trend": {"target": 0.0, "confidence": 0.0, "ready": False},
            "external": {"target": 0.0, "confidence": 0.0, "ready": False},
        },
        "net": {"target": 0.0, "contributions": {"trend": 0.0, "external": 0.0}},
        "order": None,
    }
    record.update(changes)
    return record


def with_order(record: dict[str, Any], cid: str, venue_id: str) -> dict[str, Any]:
    return {
        **record,
        "intent": {"client_order_id": cid, "side": "BUY", "qty": "3", "order_type": "MARKET"},
        "reason": None,
        "order": {"outcome": "ACCEPTED", "venue_order_id": venue_id, "reason": None},
    }


def as_replay(record: dict[str, Any]) -> dict[str, Any]:
    """The same decision as a replay writes it: its own run id, write time and hash, the
    venue's own order numbers, and no external sleeve (a replay has no inbox)."""
    out = copy.deepcopy(record)
    out.update(run_id="rp-1", ts="2026-12-07T18:36:57.350000Z", config_hash="c" * 64)
    out["sleeves"].pop("external")
    out["net"]["contributions"].pop("external")
    if out.get("order"):
        out["order"]["venue_order_id"] = "sim-99"
    return out


# -- decisions -------------------------------------------------------------------------------
def test_records_that_differ_only_where_a_replay_must_differ_do_not_diverge() -> None:
    run = [decision("SIMA", i) for i in range(3)]
    run[1] = with_order(run[1], "qb1", "sim-1")
    result = compare_decisions(run, [as_replay(r) for r in run])
    assert result["compared"] == 3
    assert result["diverging"] == 0
    assert result["by_stage"] == {}
    assert result["first_by_symbol"] == []


def test_a_changed_sleeve_is_counted_at_its_stage_not_at_the_intent_it_changed() -> None:
    run = [decision("SIMA", i) for i in range(4)] + [decision("SIMB", i) for i in range(4)]
    replay = [as_replay(r) for r in run]
    for i in (2, 3):  # SIMA's sleeve becomes ready at bar 2 in the replay, and it orders
        replay[i]["sleeves"]["trend"] = {"target": 0.4, "confidence": 0.5, "ready": True}
        replay[i] = with_order(replay[i], f"qb-{i}", "sim-1")
    replay[4 + 3]["reason"] = {"code": "SIZE_BELOW_LOT"}  # SIMB's last reason differs

    result = compare_decisions(run, replay)

    assert result["diverging"] == 3
    assert result["by_stage"] == {"sleeves": 2, "reason": 1}
    first = {f["symbol"]: f for f in result["first_by_symbol"]}
    assert (first["SIMA"]["bar_ts"], first["SIMA"]["stage"]) == (iso(T0 + 2 * STEP), "sleeves")
    assert first["SIMA"]["run"]["sleeves"]["trend"]["ready"] is False
    assert first["SIMA"]["replay"]["sleeves"]["trend"]["ready"] is True
    assert (first["SIMB"]["bar_ts"], first["SIMB"]["stage"]) == (iso(T0 + 3 * STEP), "reason")


def test_an_outside_intent_the_run_received_is_a_divergence() -> None:
    run = [decision("SIMA", 0)]
    run[0]["sleeves"]["external"] = {"target": 0.5, "confidence": 1.0, "ready": True}
    replay = [as_replay(decision("SIMA", 0))]
    result = compare_decisions(run, replay)
    assert result["by_stage"] == {"sleeves": 1}


def test_a_decision_on_one_side_only_is_named() -> None:
    run = [decision("SIMA", i) for i in range(3)]
    result = compare_decisions(run, [as_replay(r) for r in run[:2]])
    assert result["by_stage"] == {"missing_in_replay": 1}
    assert result["first_by_symbol"][0]["replay"] is None


def test_a_wall_clock_reason_is_set_aside_with_its_code() -> None:
    run = [decision("SIMA", 0, reason={"code": "DATA_STALE", "age_s": 12.5})]
    replay = [as_replay(decision("SIMA", 0))]
    result = compare_decisions(run, replay)
    assert result["diverging"] == 0
    assert result["wall_clock"] == [
        {"symbol": "SIMA", "bar_ts": iso(T0), "stage": "reason", "codes": ["DATA_STALE"]}
    ]


# -- orders and fills ------------------------------------------------------------------------
def test_orders_decided_on_one_side_only() -> None:
    run = [with_order(decision("SIMA", 0), "qb-a", "sim-1"), decision("SIMA", 1)]
    replay = [
        as_replay(decision("SIMA", 0)),
        with_order(as_replay(decision("SIMA", 1)), "qb-b", "x"),
    ]
    orders = compare_orders(run, replay)
    assert [o["client_order_id"] for o in orders["only_in_run"]] == ["qb-a"]
    assert [o["client_order_id"] for o in orders["only_in_replay"]] == ["qb-b"]
    assert orders["only_in_run"][0]["bar_ts"] == iso(T0)


def fill(cid: str, side: str, qty: str, price: str) -> dict[str, Any]:
    return {"type": "FILL", "client_order_id": cid, "side": side, "qty": qty, "price": price}


def test_slippage_is_signed_against_the_run_and_volume_weighted() -> None:
    run = [
        fill("b1", "BUY", "1", "100.10"),  # paid 10 bps more than the model
        fill("s1", "SELL", "2", "99.95"),  # received 5 bps less: +5
        fill("b2", "BUY", "1", "99.00"),  # two partial fills: vwap 99.50 vs 100: -50 bps
        fill("b2", "BUY", "1", "100.00"),
        fill("only-run", "BUY", "1", "1"),
    ]
    replay = [
        fill("b1", "BUY", "1", "100"),
        fill("s1", "SELL", "2", "100"),
        fill("b2", "BUY", "2", "100"),
        fill("only-replay", "SELL", "1", "1"),
    ]
    result = compare_fills(run, replay)
    assert {r["client_order_id"]: r["slippage_bps"] for r in result["fills"]} == {
        "b1": 10.0,
        "s1": 5.0,
        "b2": -50.0,
    }
    assert result["slippage_bps"]["median"] == 5.0
    assert result["slippage_bps"]["p90"] == pytest.approx(9.0)  # between 5 and 10
    assert result["only_run_filled"] == ["only-run"]
    assert result["only_replay_filled"] == ["only-replay"]


def test_no_fills_in_common_reports_no_slippage() -> None:
    result = compare_fills([], [fill("x", "BUY", "1", "1")])
    assert result["matched"] == 0
    assert result["slippage_bps"]["median"] is None


# -- the run on disk -------------------------------------------------------------------------
@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run's working directory: its manifest, a rotated and a live decision file (with
    another run's lines and a torn last line), and the journal."""
    loaded = load_config(None, environ={})
    manifest = {
        "run_id": "run-1",
        "started_at": "2026-12-07T18:36:50.000000Z",
        "execution_mode": "paper",
        "config_hash": loaded.hash,
        "config": redacted(loaded.plain(), environ={}),
    }
    runtime = tmp_path / "runtime"
    (runtime / "manifests").mkdir(parents=True)
    (runtime / "manifests" / "run-1.json").write_bytes(orjson.dumps(manifest))
    (runtime / "decisions").mkdir()
    day1 = [decision("SIMA", 0), with_order(decision("SIMB", 0), "qb-1", "sim-1")]
    day2 = [decision("SIMA", 1), decision("SIMA", 2, run_id="run-0"), decision("SIMB", 1)]
    lines = lambda rs: b"".join(orjson.dumps(r) + b"\n" for r in rs)  # noqa: E731
    (runtime / "decisions" / "decisions-2026-12-06.jsonl").write_bytes(lines(day1))
    (runtime / "decisions.jsonl").write_bytes(lines(day2) + b'{"ts": "torn')
    (tmp_path / "state").mkdir()
    in_run = 1_796_668_620_000_000_000  # 18:37:00, between the start and the last decision
    journal = [
        {"type": "INTENT", "client_order_id": "qb-earlier-exit", "ts_ns": in_run - 2 * 10**10},
        fill("qb-earlier-exit", "SELL", "1", "1"),
        {"type": "INTENT", "client_order_id": "qb-1", "ts_ns": in_run},
        {"type": "INTENT", "client_order_id": "qb-exit", "ts_ns": in_run + 1},
        {**fill("qb-1", "BUY", "3", "101.5"), "fill_ts_ns": T0},
        fill("qb-other-run", "BUY", "1", "1"),
        fill("qb-exit", "SELL", "3", "102"),
    ]
    (tmp_path / "state" / "journal.jsonl").write_bytes(lines(journal))
    return tmp_path


def test_a_run_is_read_from_its_manifest_rotated_files_and_journal(run_dir: Path) -> None:
    runtime = run_dir / "runtime"
    path = manifest_path("run-1", runtime)
    assert path == runtime / "manifests" / "run-1.json"
    assert manifest_path(str(path), Path("elsewhere")) == path
    run = read_run(path)
    assert run.run_id == "run-1"
    assert [r["decision_id"] for r in run.decisions] == [
        f"SIMA@{T0}",
        f"SIMB@{T0}",
        f"SIMA@{T0 + STEP}",
        f"SIMB@{T0 + STEP}",
    ]
    # Its orders' fills: those it decided and its exits (journaled during the run).
    assert [(f["client_order_id"], f["price"]) for f in run.fills] == [
        ("qb-1", "101.5"),
        ("qb-exit", "102"),
    ]


def test_a_compacted_journal_is_read_with_its_archive_each_event_once(run_dir: Path) -> None:
    state = run_dir / "state"
    whole = [orjson.loads(line) for line in (state / "journal.jsonl").read_bytes().splitlines()]
    numbered = [{"seq": n, **e} for n, e in enumerate(whole, 1)]
    dumps = lambda es: b"".join(orjson.dumps(e) + b"\n" for e in es)  # noqa: E731
    # oms.compaction: the whole journal archived; the journal is a SNAPSHOT plus its tail.
    (state / "journal.archive").mkdir()
    (state / "journal.archive" / f"journal-{len(whole):012d}.jsonl").write_bytes(dumps(numbered))
    snapshot = {"seq": 4, "ts_ns": 0, "type": "SNAPSHOT", "upto_seq": len(whole), "ledger": {}}
    (state / "journal.jsonl").write_bytes(dumps([snapshot, *numbered[4:]]))

    run = read_run(run_dir / "runtime" / "manifests" / "run-1.json")

    assert [(f["client_order_id"], f["price"]) for f in run.fills] == [
        ("qb-1", "101.5"),
        ("qb-exit", "102"),
    ]


def test_a_gzipped_rotated_day_is_read_as_the_plain_one(run_dir: Path) -> None:
    # records.compress_rotated: the rotated day is decisions-2026-12-06.jsonl.gz.
    day = run_dir / "runtime" / "decisions" / "decisions-2026-12-06.jsonl"
    plain = read_run(run_dir / "runtime" / "manifests" / "run-1.json").decisions
    day.with_name(day.name + ".gz").write_bytes(gzip.compress(day.read_bytes()))
    day.unlink()
    assert read_run(run_dir / "runtime" / "manifests" / "run-1.json").decisions == plain


def test_an_unknown_run_is_named_with_where_it_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(
        DataError,
        match=r"--against nope: neither a manifest file nor a run id .*/runtime/manifests$",
    ):
        manifest_path("nope", tmp_path / "runtime")


def test_a_run_without_decision_records_is_an_error(run_dir: Path) -> None:
    (run_dir / "runtime" / "decisions.jsonl").unlink()
    for rotated in (run_dir / "runtime" / "decisions").iterdir():
        rotated.unlink()
    with pytest.raises(DataError, match="no decision records of this run"):
        read_run(run_dir / "runtime" / "manifests" / "run-1.json")


def test_the_run_config_rebuilt_from_the_manifest_has_the_run_hash(run_dir: Path) -> None:
    run = read_run(run_dir / "runtime" / "manifests" / "run-1.json")
    loaded = run_config(run)
    assert loaded.hash == run.manifest["config_hash"]
    assert run_config(run, "aggressive").config.run.trading_profile == "aggressive"


def test_the_replay_trades_the_instruments_the_embedded_venue_used(run_dir: Path) -> None:
    run = read_run(run_dir / "runtime" / "manifests" / "run-1.json")
    loaded = with_run_instruments(run_config(run), run)
    spec = loaded.config.instruments["SIMA"]
    assert (spec.tick_size, spec.lot_size) == (Decimal("0.01"), Decimal("1"))
    assert sorted(loaded.config.instruments) == ["SIMA", "SIMB"]


def test_the_bars_written_read_back_exactly(tmp_path: Path) -> None:
    # Every other bar: their length is the run's 0.05 s, not the 0.1 s between them.
    records = [decision(s, i) for i in (0, 2, 4) for s in ("SIMB", "SIMA")]
    records.append(decision("SIMA", 2))  # a bar decided twice is written once
    files = write_bars(records, tmp_path, 0.05)
    series = load_symbols(list(files))
    assert sorted(series) == ["SIMA", "SIMB"]
    bars = list(series["SIMA"])
    assert [b.ts_ns for b in bars] == [T0, T0 + 2 * STEP, T0 + 4 * STEP]
    assert bars[1].high == 103.0 + 1 / 3  # every digit of the float
    assert bars[1].volume == 1234.5
    assert {b.interval_s for b in bars} == {0.05}


def test_without_a_configured_length_a_bar_lasts_the_smallest_gap(tmp_path: Path) -> None:
    records = [decision("SIMA", i) for i in (0, 2, 3)]
    (bars,) = load_symbols(list(write_bars(records, tmp_path))).values()
    assert {b.interval_s for b in bars} == {0.05}
    with pytest.raises(DataError, match="SIMA: the run decided on one bar only"):
        write_bars(records[:1], tmp_path)


def test_a_bar_time_finer_than_a_microsecond_is_refused(tmp_path: Path) -> None:
    record = decision("SIMA", 0, decision_id=f"SIMA@{T0 + 1}")
    with pytest.raises(DataError, match="finer than a microsecond"):
        write_bars([record], tmp_path, 1.0)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"market": {"source": "synthetic", "bar_interval_s": 0.05}}, 0.05),
        (
            {"market": {"source": "venue"}, "venue": {"name": "ccxt", "ccxt": {"timeframe": "5m"}}},
            300,
        ),
        (
            {
                "market": {"source": "venue"},
                "venue": {"name": "alpaca", "alpaca": {"timeframe": "1Min"}},
            },
            60,
        ),
        (
            {"market": {"source": "venue"}, "venue": {"name": "ccxt", "ccxt": {"timeframe": "1d"}}},
            86_400,
        ),
        ({"market": {"source": "csv"}}, None),
    ],
)
def test_the_bar_length_is_the_one_the_run_asked_its_feed_for(
    config: dict[str, Any], expected: float | None
) -> None:
    assert bar_interval_s({"config": config}) == expected


def test_the_summary_names_the_first_divergence_and_the_verdict(run_dir: Path) -> None:
    run = read_run(run_dir / "runtime" / "manifests" / "run-1.json")
    replay = [as_replay(r) for r in run.decisions]
    replay[0]["sleeves"]["trend"]["ready"] = True
    report = build_report(run, "rp-1", replay, [fill("qb-1", "BUY", "3", "101.5")])
    text = describe(report, Path("out/against.json"))
    assert report["diverged"] is True
    assert f"first divergence SIMA at {iso(T0)}: sleeves" in text
    # Side by side, only the leaves of the stage that differ.
    assert '    run:    {"sleeves.trend.ready":false}' in text
    assert '    replay: {"sleeves.trend.ready":true}' in text
    assert "fills: 1 matched, slippage vs fill model median +0.00 bps" in text
    assert text.endswith("decisions diverge")


def test_a_run_that_began_on_an_earlier_runs_book_is_named(run_dir: Path) -> None:
    run = read_run(run_dir / "runtime" / "manifests" / "run-1.json")
    for record in run.decisions:
        record["sizer"] = {"equity": 99_994.1}
        record["position"] = {"qty": "5" if record["symbol"] == "SIMB" else "0"}
    replay = [as_replay(r) for r in run.decisions]
    for record in replay:
        record["sizer"] = {"equity": 100_000.0}
        record["position"] = {"qty": "0"}
    report = build_report(run, "rp-1", replay, [])
    assert report["start"]["run"] == {"equity": 99_994.1, "positions": {"SIMB": "5"}}
    assert report["start"]["replay"] == {"equity": 100_000.0, "positions": {}}
    text = describe(report, Path("against.json"))
    assert (
        "note: the run started with equity 99994.1 and positions {'SIMB': '5'}, "
        "the replay with 100000.0 and none" in text
    )
    assert build_report(run, "rp-1", [as_replay(r) for r in run.decisions], [])["start"]["same"]


def test_a_corrupt_record_before_the_last_line_is_named(run_dir: Path) -> None:
    live = run_dir / "runtime" / "decisions.jsonl"
    live.write_bytes(b"{not json\n" + live.read_bytes())
    with pytest.raises(DataError, match=r"decisions.jsonl:1: not a JSON record"):
        read_run(run_dir / "runtime" / "manifests" / "run-1.json")
