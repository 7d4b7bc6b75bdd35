"""`quantbot replay`: the live pipeline over the real daily bars in ../shared/data, as a user
runs it. Deterministic to the byte, the same decisions as a live run over the same bars, and
no trading through a split."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import REPO_ROOT, read_jsonl, run

DAILY = REPO_ROOT.parent / "shared" / "data" / "daily"
CONFIG = str(REPO_ROOT / "config.toml")


def replay(
    workdir: Path, *args: str, env: dict[str, str] | None = None, config: str = CONFIG
) -> Path:
    result = run(workdir, "replay", "--config", config, *args, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    [out] = [line.split()[-1] for line in result.stdout.splitlines() if "records:" in line]
    return workdir / Path(out).parent


@pytest.mark.e2e
def test_a_second_replay_writes_byte_identical_records(workdir: Path) -> None:
    args = ("--data", str(DAILY / "AAPL.csv"), str(DAILY / "MSFT.csv"), "--to", "2004-12-31")
    first = replay(workdir, *args)
    decisions = (first / "decisions.jsonl").read_bytes()
    journal = (first / "state" / "journal.jsonl").read_bytes()
    tca = (first / "tca.jsonl").read_bytes()
    assert tca.count(b'"status":"filled"') > 10
    assert decisions.count(b"\n") > 2000 and b'"intent":{' in decisions
    again = replay(workdir, *args)
    assert again == first  # the id is derived from the inputs
    assert (again / "decisions.jsonl").read_bytes() == decisions
    assert (again / "state" / "journal.jsonl").read_bytes() == journal
    assert (again / "tca.jsonl").read_bytes() == tca
    elsewhere = replay(workdir, *args, "--out", str(workdir / "elsewhere"))
    assert elsewhere.parent == workdir / "elsewhere"
    assert (elsewhere / "decisions.jsonl").read_bytes() == decisions  # --out is not an input
    summary = orjson.loads((again / "summary.json").read_bytes())
    assert summary["orders"]["sent"] == journal.count(b'"type":"INTENT"')
    # The summary is tallied while the records are written: it must count what is on disk.
    lines = [orjson.loads(line) for line in decisions.splitlines()]
    # No order: the step's reason, else the gate that refused the order (NOT_SENT), else ORDER.
    refused = [
        (r.get("order") or {}).get("outcome") == "NOT_SENT" and r["order"]["reason"]["code"]
        for r in lines
    ]
    codes = [
        (r.get("reason") or {}).get("code") or gate or "ORDER"
        for r, gate in zip(lines, refused, strict=True)
        if "decision_id" in r
    ]
    counted = {code: n["count"] for code, n in summary["decisions_by_reason"].items()}
    assert counted == {code: codes.count(code) for code in set(codes)}
    assert summary["bars"] == len(codes)
    assert summary["orders"]["fills"] == journal.count(b'"type":"FILL"')
    report = (again / "report.html").read_text()
    assert "<svg" in report and "http" not in report.replace("http://www.w3.org", "")


@pytest.mark.e2e
def test_replay_runs_through_the_splits_without_trading_on_them(workdir: Path) -> None:
    out = replay(workdir, "--data", str(DAILY / "AAPL.csv"), str(DAILY / "MSFT.csv"))
    records = [r for r in read_jsonl(out / "decisions.jsonl") if r.get("decision_id")]
    by_day = {(r["symbol"], r["bar_ts"][:10]): r for r in records}
    previous: dict[str, float] = {}
    for r in records:  # adjusted by adj_close: no one-day halving anywhere
        close = r["bar"]["c"]
        if r["symbol"] in previous:
            move = close / previous[r["symbol"]] - 1
            assert move > -0.45 or r["bar_ts"].startswith("2000-09-29"), (r["bar_ts"], move)
        previous[r["symbol"]] = close
    for symbol, day in (("AAPL", "2000-06-21"), ("AAPL", "2005-02-28"), ("MSFT", "2003-02-18")):
        assert (by_day[(symbol, day)]["reason"] or {}).get("code") != "DATA_PRICE_JUMP"
    # AAPL's real -52% on 2000-09-29 is a market event: traded through (jump_policy "auto"),
    # with the jump said among its clamps (issue 17: it used to be dropped).
    crash = by_day[("AAPL", "2000-09-29")]
    assert (crash["reason"] or {}).get("code") != "DATA_PRICE_JUMP"
    assert "DATA_JUMP_ACCEPTED" in {c["code"] for c in crash["clamps"]}


@pytest.mark.e2e
def test_unadjusted_split_is_dropped_and_the_symbol_warms_up_again(workdir: Path) -> None:
    # The same AAPL bars without adj_close: the 2005 split shows as a halving.
    rows = (DAILY / "AAPL.csv").read_text().splitlines()
    header = rows[0].split(",")
    keep = [i for i, name in enumerate(header) if name != "adj_close"]
    body = [r for r in rows[1:] if "2004-06-01" <= r[:10] <= "2005-06-01"]
    raw = workdir / "AAPL.csv"
    raw.write_text("\n".join(",".join(r.split(",")[i] for i in keep) for r in [rows[0], *body]))
    out = replay(workdir, "--data", str(raw))
    records = [r for r in read_jsonl(out / "decisions.jsonl") if r.get("decision_id")]
    [split] = [r for r in records if r["bar_ts"].startswith("2005-02-28")]
    assert split["reason"]["code"] == "DATA_PRICE_JUMP" and split["intent"] is None
    after = records[records.index(split) + 1]
    assert after["reason"]["code"] == "SIGNAL_WARMUP"  # the symbol's sleeves start again


@pytest.mark.e2e
def test_replay_and_a_live_run_over_the_same_bars_decide_the_same(workdir: Path) -> None:
    data = workdir / "IBM.csv"
    rows = (DAILY / "IBM.csv").read_text().splitlines()
    data.write_text("\n".join([rows[0], *[r for r in rows[1:] if r[:4] in ("2008", "2009")]]))
    # One instrument for both: a paper run takes [instrument_defaults] (a 0.01 tick), a replay
    # what the data shows (adjusted prices: 8 decimals); fills rounded apart make equity, and
    # so a size near a whole share, differ.
    config = workdir / "ibm.toml"
    config.write_text(
        Path(CONFIG).read_text()
        + '\n[instruments."IBM"]\ntick_size = "0.00000001"\nlot_size = "1"\n'
    )
    out = replay(workdir, "--data", str(data), config=str(config))
    env = {
        "QUANTBOT__MARKET__SOURCE": "csv",
        "QUANTBOT__MARKET__SYMBOLS": '["IBM"]',
        "QUANTBOT__MARKET__CSV_PATHS": f'["{data}"]',
        "QUANTBOT__INBOX__ENABLED": "false",  # replay has no inbox: outside intents are not past
    }
    live = run(
        workdir, "run", "--config", str(config), "--execution-mode", "paper", env=env, timeout=300
    )
    assert live.returncode == 0, live.stderr[-3000:]

    def decided(path: Path) -> list[tuple]:
        return [
            (
                r["decision_id"],
                (r.get("intent") or {}).get("client_order_id"),
                (r.get("intent") or {}).get("side"),
                (r.get("intent") or {}).get("qty"),
                (r.get("reason") or {}).get("code"),
            )
            for r in read_jsonl(path)
            if r.get("decision_id")
        ]

    replayed = decided(out / "decisions.jsonl")
    assert len(replayed) > 400 and any(d[1] for d in replayed)
    assert decided(workdir / "runtime" / "decisions.jsonl") == replayed


@pytest.mark.e2e
def test_replay_reads_ccxt_json_and_the_close_fill_model_fills_at_the_decision_bar(
    workdir: Path,
) -> None:
    # ccxt's fetch_ohlcv arrays, as a user would save them; fills at the decision bar's close.
    rows = [r.split(",") for r in (DAILY / "IBM.csv").read_text().splitlines()[1:]]
    ohlcv = [
        [int(datetime.fromisoformat(r[0]).replace(tzinfo=UTC).timestamp() * 1000),
         *map(float, r[1:6])]
        for r in rows if r[0].startswith(("2008", "2009"))
    ]  # fmt: skip
    data = workdir / "ibm-1d.json"
    data.write_bytes(orjson.dumps({"symbol": "IBM", "timeframe": "1d", "ohlcv": ohlcv}))
    env = {
        "QUANTBOT__VENUE__SIM__FILL_MODEL": "close",
        "QUANTBOT__VENUE__SIM__SLIPPAGE_BPS": "0",
        "QUANTBOT__VENUE__SIM__SLIPPAGE_MODEL": "fixed",  # no market-scaled part either
    }
    out = replay(workdir, "--data", str(data), env=env)
    latest = {r["client_order_id"]: r for r in read_jsonl(out / "tca.jsonl")}
    # The decided orders; their positions' exit legs rest until a later bar trades them.
    filled = [
        r for r in latest.values()
        if r["status"] == "filled" and not r["decision_id"].startswith("exit:")
    ]  # fmt: skip
    assert len(filled) > 5
    for r in filled:  # filled at submit, at the decision price: no delay, no shortfall
        assert r["fill_latency_ms"] == 0.0
        assert Decimal(r["fill_vwap"]) == Decimal(r["arrival_price"])
        assert r["is_bps"] == 0.0
