"""The execution report: its counts match the records, its answers are hand-checked, and
`quantbot report tca` writes JSON and CSV (or says what is wrong, exit 2)."""

from __future__ import annotations

import argparse
import csv
import gzip
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantbot.analytics.execution_report import (
    ReportInputError,
    build_report,
    order_pnl,
    percentile,
    write_report,
)
from quantbot.analytics.tca import TcaOrder, TcaRecorder, costs
from quantbot.cli.report import add_report_parser, run_report
from quantbot.clock import NS_PER_S, SimClock, iso_utc
from quantbot.config.ops import TcaConfig
from quantbot.domain.values import Fill, OrderIntent, Side

DAY = "2026-03-02"


def at(text: str) -> int:
    return int(datetime.fromisoformat(f"{text}+00:00").timestamp()) * NS_PER_S


class Desk:
    """Orders through a real TcaRecorder, so the report reads what the daemon writes."""

    def __init__(self, runtime: Path, start: str, **config: object) -> None:
        self.clock = SimClock(at(start))
        self.tca_path = runtime / "tca.jsonl"
        self.tca = TcaRecorder(self.tca_path, self.clock, TcaConfig(**config))
        self._fills = 0
        self._orders: dict[str, tuple[str, Side]] = {}

    def order(
        self,
        cid: str,
        symbol: str,
        side: Side,
        qty: str,
        price: str,
        *,
        sleeve: str = "trend",
        venue: str = "sim",
        outcome: str = "ACCEPTED",
        code: str | None = None,
    ) -> None:
        intent = OrderIntent(cid, f"{symbol}@1", symbol, side, Decimal(qty))
        self._orders[cid] = (symbol, side)
        self.tca.on_decision(
            intent,
            decision_ts_ns=self.clock.now_ns(),
            decision_price=Decimal(price),
            sleeve=sleeve,
            profile="balanced",
            venue=venue,
        )
        self.tca.on_submitted(cid, outcome=outcome, reason_code=code, submit_price=None)

    def fill(self, cid: str, qty: str, price: str, fee: str = "0") -> None:
        self._fills += 1
        symbol, side = self._orders[cid]
        qty_, price_, fee_ = Decimal(qty), Decimal(price), Decimal(fee)
        fill = Fill(f"f{self._fills}", cid, symbol, side, qty_, price_, fee_, self.clock.now_ns())
        self.tca.on_fill(fill)


def decision(ts: str, symbol: str, close: float, **fields: object) -> dict:
    """A decision line as the pipeline writes it (only the keys the report reads matter)."""
    return {
        "ts": iso_utc(at(ts)),
        "run_id": "r1",
        "profile": "balanced",
        "decision_id": f"{symbol}@{at(ts)}",
        "symbol": symbol,
        "bar": {"o": close, "h": close, "l": close, "c": close, "v": 1000.0},
        "intent": None,
        "reason": None,
        "clamps": [],
        **fields,
    }


def write_lines(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def not_sent(code: str, **context: object) -> dict:
    return {"outcome": "NOT_SENT", "reason": {"code": code, **context}}


@pytest.fixture
def day(tmp_path: Path) -> tuple[Path, Path]:
    """A day of orders and decisions with every status, two symbols, sleeves and venues."""
    desk = Desk(tmp_path, f"{DAY}T14:00:00", pending_after_s=30.0)
    buy, sell = Side.BUY, Side.SELL
    desk.order("a1", "AAPL", buy, "10", "100")
    desk.fill("a1", "10", "100.05", fee="0.5")  # IS 5 bps, 0.50
    desk.order("a2", "AAPL", buy, "10", "100")
    desk.clock.advance(31)
    desk.tca.tick()  # a2 pending, then filled in two parts: the last line counts
    desk.fill("a2", "6", "100.10")
    desk.fill("a2", "4", "100.10")  # IS 10 bps, 1.00
    desk.order("a3", "AAPL", buy, "10", "100")
    desk.fill("a3", "4", "100")
    desk.tca.on_canceled("a3")  # 6 never bought
    desk.order("m1", "MSFT", sell, "5", "300", sleeve="mean_reversion", venue="alpaca")
    desk.fill("m1", "5", "299.70", fee="0.3")  # IS 10 bps, 1.50
    desk.order("m2", "MSFT", sell, "2", "300", venue="alpaca", outcome="REJECTED", code="X")
    desk.order("m3", "MSFT", sell, "1", "300", outcome="NOT_SENT", code="RATE_THROTTLE_BLOCK")
    desk.order("m4", "MSFT", sell, "1", "300", venue="alpaca")  # still working at close
    desk.tca.close()

    decisions = tmp_path / "decisions.jsonl"
    t = f"{DAY}T14:"
    write_lines(
        decisions,
        [
            decision(f"{t}00:00", "AAPL", 100.0, reason={"code": "SIGNAL_WARMUP"}),
            decision(f"{t}01:00", "AAPL", 100.0, reason={"code": "NETTING_DEADBAND"}),
            decision(f"{t}02:00", "AAPL", 100.0, order=not_sent("PRICE_COLLAR_BLOCK", bps=250)),
            decision(f"{t}03:00", "MSFT", 300.0, order=not_sent("PRICE_COLLAR_BLOCK", bps=300)),
            decision(
                f"{t}04:00",
                "MSFT",
                300.0,
                reason={"code": "DAILY_EXPOSURE_LIMIT"},
                order=not_sent("DAILY_EXPOSURE_LIMIT", sleeve="trend"),
            ),
            decision(f"{t}05:00", "AAPL", 100.0, reason={"code": "BLOCK_COOLDOWN"}),
            decision(f"{t}06:00", "AAPL", 100.0, reason={"code": "BLOCK_MAX_EXPOSURE"}),
            decision(f"{t}07:00", "AAPL", 100.0, reason={"code": "ORDER_WORKING_BLOCK"}),
            decision(f"{t}08:00", "MSFT", 300.0, order={"outcome": "ACCEPTED", "reason": None}),
            decision(f"{t}09:00", "MSFT", 300.0, order=not_sent("EXEC_SHADOW_NOT_SENT")),
            {"ts": iso_utc(at(f"{t}10:00")), "event": "RECONCILE", "reason": {"code": "X"}},
            decision(f"{t}58:00", "AAPL", 100.2),  # the day's marks: last closes
            decision(f"{t}59:00", "MSFT", 299.0),
        ],
    )
    write_lines(  # the day before, rotated: not this day's blocks
        tmp_path / "decisions" / "decisions-2026-03-01.jsonl",
        [decision("2026-03-01T20:00:00", "AAPL", 99.0, reason={"code": "BLOCK_COOLDOWN"})],
    )
    return desk.tca_path, decisions


def test_order_counts_match_the_records(day: tuple[Path, Path]) -> None:
    report = build_report(*day, date=DAY)

    overall = report["overall"]
    assert overall["orders"] == 7
    assert {s: overall[s] for s in ("filled", "partial", "canceled")} == {
        "filled": 3,
        "partial": 0,
        "canceled": 1,
    }
    assert (overall["rejected"], overall["not_sent"], overall["pending"]) == (1, 1, 1)
    assert overall["partial_fills"] == 2  # a2 took two fills, a3 was canceled part-filled
    assert overall["proxy_spread_orders"] == 4  # every filled order: bars only, no quotes
    by_symbol = report["groups"]["symbol"]
    assert (by_symbol["AAPL"]["orders"], by_symbol["MSFT"]["orders"]) == (3, 4)
    assert by_symbol["AAPL"]["filled_notional"] == 2401.5  # 1000.5 + 1001 + 400
    assert by_symbol["MSFT"]["fees"] == 0.3
    assert report["groups"]["venue"]["alpaca"]["orders"] == 3
    assert report["groups"]["sleeve"]["mean_reversion"]["filled"] == 1
    assert report["groups"]["order_type"]["MARKET"]["orders"] == 7
    assert report["groups"]["profile"]["balanced"]["orders"] == 7


def test_percentiles_of_shortfall_and_spread_paid(day: tuple[Path, Path]) -> None:
    aapl = build_report(*day, date=DAY)["groups"]["symbol"]["AAPL"]

    # AAPL fills: IS 5, 10 and 0 bps -> sorted 0, 5, 10
    assert (aapl["is_bps_p50"], aapl["is_bps_p90"], aapl["is_bps_p99"]) == (5.0, 9.0, 9.9)
    assert aapl["spread_paid_bps_p50"] == 1.0  # half the 2 bps proxy
    assert aapl["is_bps_weighted"] == pytest.approx(1.5 / 2401.5 * 1e4, abs=1e-6)


def test_blocks_are_counted_per_gate_from_the_decision_records(day: tuple[Path, Path]) -> None:
    blocks = build_report(*day, date=DAY)["blocks"]

    assert blocks["by_gate"] == {
        "daily_risk": {"total": 1, "codes": {"DAILY_EXPOSURE_LIMIT": 1}},
        "policy": {"total": 2, "codes": {"BLOCK_COOLDOWN": 1, "BLOCK_MAX_EXPOSURE": 1}},
        "pretrade": {"total": 2, "codes": {"PRICE_COLLAR_BLOCK": 2}},
        "working_order": {"total": 1, "codes": {"ORDER_WORKING_BLOCK": 1}},
    }
    assert blocks["total"] == 6
    assert blocks["by_symbol"] == {"AAPL": 4, "MSFT": 2}


def test_the_answers_price_costs_against_the_days_marks(day: tuple[Path, Path]) -> None:
    answers = build_report(*day, date=DAY)["answers"]

    costs_q = answers["profitable_before_costs_losing_after"]
    # marks: AAPL 100.2, MSFT 299.0 (last closes of the day)
    # gross: AAPL 24 x 0.2 = 4.8; MSFT 5 x 1.0 = 5.0            -> 9.8
    # net:   AAPL 10x0.15-0.5 + 10x0.10 + 4x0.2 = 2.8; MSFT 5x0.7-0.3 = 3.2 -> 6.0
    assert costs_q["gross_pnl"] == pytest.approx(9.8)
    assert costs_q["net_pnl"] == pytest.approx(6.0)
    assert costs_q["is_cost"] + costs_q["fees"] == pytest.approx(9.8 - 6.0)
    assert costs_q["answer"] is False
    assert costs_q["marks"]["AAPL"] == {"price": 100.2, "source": "bar_close"}
    bleed = answers["symbols_bleeding_is_bps"]
    assert bleed["worst"] == "MSFT"  # 1.50 on 1498.5 beats AAPL's 1.50 on 2401.5
    assert [r["symbol"] for r in bleed["ranking"]] == ["MSFT", "AAPL"]
    hurt = answers["cancels_rejects_hurting_pnl"]
    # a3: 6 unbought at 100 now 100.2 -> +1.2; m2: 2 unsold at 300 now 299 -> +2.0
    assert hurt["missed_pnl"] == pytest.approx(3.2)
    assert (hurt["answer"], hurt["canceled"], hurt["rejected"]) == (True, 1, 1)


def test_a_profitable_day_eaten_by_costs_says_so(tmp_path: Path) -> None:
    desk = Desk(tmp_path, f"{DAY}T15:00:00")
    desk.order("b1", "AAPL", Side.BUY, "10", "100")
    desk.fill("b1", "10", "100.05", fee="0.5")
    desk.tca.close()
    decisions = write_lines(tmp_path / "d.jsonl", [decision(f"{DAY}T15:59:00", "AAPL", 100.06)])

    answer = build_report(desk.tca_path, decisions, date=DAY)["answers"]
    flipped = answer["profitable_before_costs_losing_after"]
    assert flipped["gross_pnl"] == pytest.approx(0.6)  # 10 x (100.06 - 100)
    assert flipped["net_pnl"] == pytest.approx(-0.4)  # 10 x 0.01 - 0.5 fee
    assert flipped["answer"] is True
    assert flipped["symbols_flipped_by_costs"] == ["AAPL"]


def test_an_order_filled_after_midnight_counts_on_its_decision_day(tmp_path: Path) -> None:
    desk = Desk(tmp_path, f"{DAY}T23:59:58", pending_after_s=1.0)
    desk.order("late", "AAPL", Side.BUY, "1", "100")
    desk.clock.advance(1)
    desk.tca.tick()  # pending, in the day's file
    desk.clock.advance(2)  # next day: the file rotates before the fill's line
    desk.fill("late", "1", "100.01")
    desk.clock.advance(86_400)  # a day later still: the fill's day is rotated too
    desk.order("next", "AAPL", Side.BUY, "1", "100")
    desk.tca.close()
    archived = sorted(p.name for p in (tmp_path / "tca").iterdir())
    assert archived == [f"tca-{DAY}.jsonl", "tca-2026-03-03.jsonl"]

    that_day = build_report(desk.tca_path, None, date=DAY)
    fill_day = build_report(desk.tca_path, None, date="2026-03-03")
    last_day = build_report(desk.tca_path, None, date="2026-03-04")
    assert (that_day["overall"]["orders"], that_day["overall"]["filled"]) == (1, 1)
    assert that_day["overall"]["pending"] == 0
    assert fill_day["overall"]["orders"] == 0  # nothing was decided that day
    assert (last_day["overall"]["orders"], last_day["overall"]["pending"]) == (1, 1)
    assert build_report(desk.tca_path, None, date=None)["overall"]["orders"] == 2
    assert that_day["blocks"] is None  # no decision records were read


def test_a_torn_line_is_skipped_and_reported(tmp_path: Path) -> None:
    desk = Desk(tmp_path, f"{DAY}T15:00:00")
    desk.order("r1", "AAPL", Side.BUY, "1", "100", outcome="REJECTED", code="X")
    desk.tca.close()
    with desk.tca_path.open("ab") as f:
        f.write(b'{"client_order_id": "r2", "sta')

    report = build_report(desk.tca_path, None, date=DAY)
    assert report["overall"]["rejected"] == 1
    assert report["unreadable_lines"] == {str(desk.tca_path): 1}


def test_missing_records_are_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match=r"tca\.jsonl: no such file"):
        build_report(tmp_path / "tca.jsonl", None, date=DAY)


def test_the_csv_has_a_row_per_group_and_per_gate_matching_the_json(
    day: tuple[Path, Path], tmp_path: Path
) -> None:
    report = build_report(*day, date=DAY)
    json_path, csv_path = write_report(report, tmp_path / "out")

    assert json_path.name == f"tca-report-{DAY}.json"
    assert orjson.loads(json_path.read_bytes())["overall"] == report["overall"]
    with csv_path.open() as f:
        rows = {(r["dimension"], r["key"]): r for r in csv.DictReader(f)}
    assert int(rows[("all", "all")]["orders"]) == 7
    assert int(rows[("symbol", "MSFT")]["rejected"]) == 1
    assert float(rows[("symbol", "AAPL")]["is_bps_p50"]) == 5.0
    assert int(rows[("venue", "alpaca")]["orders"]) == 3
    assert int(rows[("gate", "pretrade")]["blocks"]) == 2
    assert len(rows) == 1 + 2 + 2 + 1 + 1 + 2 + 4  # all, symbols, sleeves, ..., gates


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 90) == 3.7
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000"), places=2)
qtys = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("1000"), places=3)


@given(
    side=st.sampled_from(list(Side)),
    arrival=prices,
    mark=prices,
    fills=st.lists(st.tuples(qtys, prices, prices), min_size=1, max_size=4),
)
def test_costs_explain_the_gap_between_pnl_before_and_after_costs(
    side: Side, arrival: Decimal, mark: Decimal, fills: list[tuple[Decimal, Decimal, Decimal]]
) -> None:
    qty = sum((q for q, _, _ in fills), Decimal(0))
    order = TcaOrder(
        intent=OrderIntent("c", "d", "X", side, qty),
        decision_ts_ns=0,
        decision_price=arrival,
        sleeve="s",
        profile="p",
        venue="v",
        quote=None,
        fills=len(fills),
        filled_qty=qty,
        notional=sum((q * p for q, p, _ in fills), Decimal(0)),
        fees=sum((f for _, _, f in fills), Decimal(0)),
    )
    row = {**costs(order, benchmark="decision", proxy_spread_bps=2.0)}
    row |= {"side": side.value, "qty": qty, "status": "filled"}

    gross, net, missed = order_pnl(row, mark)
    assert gross - net == row["is_cost"] + row["fees"]
    assert missed == 0


def run_cli(tmp_path: Path, *argv: str) -> int:
    config = tmp_path / "config.toml"
    config.write_text(f'[run]\nruntime_dir = "{tmp_path / "runtime"}"\n')
    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", "tca", "--config", str(config), *argv])
    return run_report(args, clock=SimClock(at(f"{DAY}T18:00:00")))


def into_runtime(day: tuple[Path, Path], tmp_path: Path) -> Path:
    """Move the day's records to where ``run_cli``'s config says the runtime is."""
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for path in day:
        path.rename(runtime / path.name)
    return runtime


def test_report_command_writes_todays_json_and_csv(
    day: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = into_runtime(day, tmp_path)

    assert run_cli(tmp_path) == 0  # no --date: today by the clock

    out = capsys.readouterr()
    assert orjson.loads(out.out)["symbols_bleeding_is_bps"]["worst"] == "MSFT"
    assert f"{DAY}: 7 orders, 6 blocks" in out.err
    assert (runtime / "reports" / f"tca-report-{DAY}.csv").is_file()


def test_report_reads_gzipped_rotated_days(
    day: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # records.compress_rotated: the day's files are rotated and gzipped; the same report.
    runtime = into_runtime(day, tmp_path)
    assert run_cli(tmp_path, "--date", DAY) == 0
    plain = orjson.loads((runtime / "reports" / f"tca-report-{DAY}.json").read_bytes())
    for name in ("tca", "decisions"):
        live = runtime / f"{name}.jsonl"
        (runtime / name).mkdir()
        (runtime / name / f"{name}-{DAY}.jsonl.gz").write_bytes(gzip.compress(live.read_bytes()))
        live.unlink()

    assert run_cli(tmp_path, "--date", DAY) == 0

    assert f"{DAY}: 7 orders, 6 blocks" in capsys.readouterr().err
    gzipped = orjson.loads((runtime / "reports" / f"tca-report-{DAY}.json").read_bytes())
    for key in ("overall", "groups", "blocks", "answers"):
        assert gzipped[key] == plain[key], key


def test_report_command_refuses_a_malformed_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(tmp_path, "--date", "2026-3-2") == 2
    assert "--date '2026-3-2': use YYYY-MM-DD" in capsys.readouterr().err


def test_report_command_without_records_says_which_file_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(tmp_path, "--date", DAY, "--out", str(tmp_path / "o")) == 2
    assert "runtime/tca.jsonl: no such file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_day_whose_every_order_was_blocked_reports_its_blocks_without_tca_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No order sent means no TCA file at all; the blocks are what the reader wants to see.
    rows = [
        decision(f"{DAY}T15:00:00", "AAPL", 100.0, order=not_sent("PRICE_COLLAR_BLOCK")),
        decision(f"{DAY}T15:01:00", "AAPL", 100.5, order=not_sent("PRICE_COLLAR_BLOCK")),
        decision(f"{DAY}T15:02:00", "MSFT", 50.0, reason={"code": "BLOCK_COOLDOWN"}),
    ]
    write_lines(tmp_path / "runtime" / "decisions.jsonl", rows)
    assert not (tmp_path / "runtime" / "tca.jsonl").exists()

    assert run_cli(tmp_path, "--date", DAY) == 0
    assert f"{DAY}: 0 orders, 3 blocks" in capsys.readouterr().err
    report = orjson.loads((tmp_path / "runtime/reports" / f"tca-report-{DAY}.json").read_bytes())
    assert report["tca_file"] is None
    assert report["overall"]["orders"] == 0
    assert report["blocks"]["by_gate"]["pretrade"]["total"] == 2
    assert report["blocks"]["by_gate"]["policy"]["total"] == 1


def test_report_command_into_an_out_that_is_a_file_is_exit_2(
    day: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    into_runtime(day, tmp_path)
    out = tmp_path / "taken"
    out.write_text("a file")
    assert run_cli(tmp_path, "--date", DAY, "--out", str(out)) == 2  # not a traceback
    assert f"--out {out}: cannot write the report there" in capsys.readouterr().err
    assert out.read_text() == "a file"
