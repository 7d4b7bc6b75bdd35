"""TCA records: hand-checked costs per order, the record lifecycle, the file on disk."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from quantbot.analytics.tca import TcaRecorder
from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.ops import TcaConfig
from quantbot.domain.values import Fill, OrderIntent, OrderType, Quote, Side

T0 = int(datetime(2026, 3, 2, 14, 30, tzinfo=UTC).timestamp()) * NS_PER_S
MS = 1_000_000


def intent(cid: str, side: Side, qty: str, symbol: str = "AAPL") -> OrderIntent:
    return OrderIntent(
        client_order_id=cid,
        decision_id=f"{symbol}@{T0}",
        symbol=symbol,
        side=side,
        qty=Decimal(qty),
        order_type=OrderType.MARKET,
        bar_ts_ns=T0,
    )


def fill(cid: str, n: int, side: Side, qty: str, price: str, *, fee: str, ts_ns: int) -> Fill:
    return Fill(
        fill_id=f"{cid}-{n}",
        client_order_id=cid,
        symbol="AAPL",
        side=side,
        qty=Decimal(qty),
        price=Decimal(price),
        fee=Decimal(fee),
        ts_ns=ts_ns,
    )


def lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


class Harness:
    def __init__(self, tmp_path: Path, **config: object) -> None:
        self.clock = SimClock(T0)
        self.path = tmp_path / "tca.jsonl"
        self.tca = TcaRecorder(self.path, self.clock, TcaConfig(**config))

    def decide(
        self,
        order: OrderIntent,
        price: str,
        quote: Quote | None = None,
        venue: str = "sim",
    ) -> None:
        self.tca.on_decision(
            order,
            decision_ts_ns=self.clock.now_ns(),
            decision_price=Decimal(price),
            sleeve="trend",
            profile="balanced",
            venue=venue,
            quote=quote,
        )

    def accept(self, cid: str, submit_price: str | None = None) -> None:
        price = None if submit_price is None else Decimal(submit_price)
        self.tca.on_submitted(cid, outcome="ACCEPTED", reason_code=None, submit_price=price)

    def records(self) -> list[dict]:
        return lines(self.path) if self.path.exists() else []


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


def test_buy_with_a_quote_costs_are_measured_against_arrival_and_mid(h: Harness) -> None:
    quote = Quote("AAPL", T0, bid=99.9, ask=100.1)
    h.decide(intent("b1", Side.BUY, "10"), "100", quote)
    h.clock.advance(0.2)
    h.accept("b1", submit_price="100.02")  # recorded, but the benchmark is the decision
    h.tca.on_fill(fill("b1", 1, Side.BUY, "10", "100.05", fee="0.5", ts_ns=T0 + 450 * MS))

    [rec] = h.records()
    assert rec["client_order_id"] == "b1"
    assert rec["status"] == "filled"
    assert rec["arrival_benchmark"] == "decision"
    assert (rec["arrival_price"], rec["submit_price"]) == ("100", "100.02")
    assert Decimal(rec["fill_vwap"]) == Decimal("100.05")
    # (100.05 - 100) / 100 x 1e4 = 5 bps, paid 0.05 x 10 = 0.5 in quote currency
    assert rec["is_bps"] == 5.0
    assert Decimal(rec["is_cost"]) == Decimal("0.5")
    assert rec["spread_source"] == "quote"
    assert rec["quoted_spread_bps"] == 20.0  # 0.2 / 100
    assert rec["spread_paid_bps"] == 5.0  # 0.05 above mid 100
    assert Decimal(rec["fees"]) == Decimal("0.5")
    assert rec["fees_bps"] == 4.9975  # 0.5 / 1000.5
    assert rec["total_cost_bps"] == 9.9975
    assert rec["fill_latency_ms"] == 250.0  # fill at +450 ms, submitted at +200 ms
    assert rec["decision_ts"] == "2026-03-02T14:30:00.000000Z"
    assert rec["submit_ts"] == "2026-03-02T14:30:00.200000Z"
    assert rec["first_fill_ts"] == "2026-03-02T14:30:00.450000Z"
    assert {k: Decimal(v) for k, v in rec["quote"].items()} == {
        "bid": Decimal("99.9"),
        "ask": Decimal("100.1"),
        "mid": Decimal(100),
    }
    assert (rec["partial"], rec["was_partial"]) == (False, False)


def test_sell_in_two_fills_writes_partial_then_filled_with_a_proxy_spread(h: Harness) -> None:
    h.decide(intent("s1", Side.SELL, "5"), "200")  # bars only: no quote
    h.accept("s1")
    h.tca.on_fill(fill("s1", 1, Side.SELL, "3", "199.80", fee="0.1", ts_ns=T0 + 10 * MS))
    h.tca.on_fill(fill("s1", 2, Side.SELL, "2", "199.90", fee="0.1", ts_ns=T0 + 20 * MS))

    first, last = h.records()
    assert (first["status"], first["partial"], first["was_partial"]) == ("partial", True, False)
    assert Decimal(first["filled_qty"]) == 3
    assert first["is_bps"] == 10.0  # sold 0.20 below 200
    assert (last["status"], last["partial"], last["was_partial"]) == ("filled", False, True)
    # VWAP (599.40 + 399.80) / 5 = 199.84: a sell 0.16 below arrival costs 8 bps
    assert Decimal(last["fill_vwap"]) == Decimal("199.84")
    assert last["is_bps"] == 8.0
    assert Decimal(last["is_cost"]) == Decimal("0.80")
    assert last["fills"] == 2
    assert last["fees_bps"] == 2.0016  # 0.2 / 999.2
    assert last["spread_source"] == "proxy"
    assert last["quoted_spread_bps"] == 2.0
    assert last["spread_paid_bps"] == 1.0  # half the 2 bps proxy
    assert last["fill_latency_ms"] == 10.0  # the first fill counts
    assert h.tca.open_orders == 0


def test_a_buy_filled_below_arrival_has_negative_shortfall(h: Harness) -> None:
    h.decide(intent("b2", Side.BUY, "4"), "50", Quote("AAPL", T0, bid=49.9, ask=50.1))
    h.accept("b2")
    h.tca.on_fill(fill("b2", 1, Side.BUY, "4", "49.95", fee="0", ts_ns=T0))

    [rec] = h.records()
    assert rec["is_bps"] == -10.0
    assert Decimal(rec["is_cost"]) == Decimal("-0.20")
    assert rec["spread_paid_bps"] == -10.0  # bought below the 50 mid
    assert rec["fees_bps"] == 0.0


def test_a_sell_at_the_bid_pays_half_the_quoted_spread(h: Harness) -> None:
    h.decide(intent("s2", Side.SELL, "1"), "100", Quote("AAPL", T0, bid=99.9, ask=100.1))
    h.accept("s2")
    h.tca.on_fill(fill("s2", 1, Side.SELL, "1", "99.9", fee="0", ts_ns=T0))

    [rec] = h.records()
    assert rec["spread_paid_bps"] == 10.0
    assert rec["is_bps"] == 10.0


def test_a_crossed_quote_is_not_trusted_and_the_proxy_stands_in(tmp_path: Path) -> None:
    h = Harness(tmp_path, proxy_spread_bps=6.0)
    h.decide(intent("b3", Side.BUY, "1"), "100", Quote("AAPL", T0, bid=100.2, ask=100.1))
    h.accept("b3")
    h.tca.on_fill(fill("b3", 1, Side.BUY, "1", "100", fee="0", ts_ns=T0))

    [rec] = h.records()
    assert rec["quote"] is None
    assert rec["spread_source"] == "proxy"
    assert (rec["quoted_spread_bps"], rec["spread_paid_bps"]) == (6.0, 3.0)


def test_submit_benchmark_measures_from_the_submit_price(tmp_path: Path) -> None:
    h = Harness(tmp_path, arrival="submit")
    h.decide(intent("b4", Side.BUY, "1"), "100")
    h.accept("b4", submit_price="101")
    h.tca.on_fill(fill("b4", 1, Side.BUY, "1", "101.101", fee="0", ts_ns=T0))
    h.decide(intent("b5", Side.BUY, "1"), "100")
    h.accept("b5", submit_price=None)  # no submit price known: decision price stands in
    h.tca.on_fill(fill("b5", 1, Side.BUY, "1", "100.1", fee="0", ts_ns=T0))

    with_submit, without = h.records()
    assert (with_submit["arrival_benchmark"], with_submit["arrival_price"]) == ("submit", "101")
    assert with_submit["is_bps"] == 10.0  # 0.101 over 101
    assert (without["arrival_benchmark"], without["arrival_price"]) == ("decision", "100")
    assert without["is_bps"] == 10.0


@pytest.mark.parametrize(
    ("outcome", "code", "status"),
    [
        ("REJECTED", "VENUE_INSUFFICIENT_FUNDS", "rejected"),
        ("NOT_SENT", "PRICE_COLLAR_BLOCK", "not_sent"),
    ],
)
def test_a_submit_that_ends_the_order_writes_its_final_record_at_once(
    h: Harness, outcome: str, code: str, status: str
) -> None:
    h.decide(intent("r1", Side.BUY, "2"), "100")
    h.clock.advance(0.01)
    h.tca.on_submitted("r1", outcome=outcome, reason_code=code, submit_price=None)

    [rec] = h.records()
    assert rec["status"] == status
    assert rec["submit_outcome"] == outcome
    assert rec["reason_code"] == code
    assert Decimal(rec["filled_qty"]) == 0
    assert rec["is_bps"] is None
    assert rec["fill_latency_ms"] is None
    assert h.tca.open_orders == 0


def test_an_unfilled_order_gets_one_pending_record_after_the_wait_then_its_fill(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, pending_after_s=30.0)
    h.decide(intent("p1", Side.BUY, "1"), "100")
    h.accept("p1")
    h.clock.advance(29.9)
    h.tca.tick()
    assert h.records() == []  # not waited long enough

    h.clock.advance(0.1)
    h.tca.tick()
    h.clock.advance(10)
    h.tca.tick()  # already reported pending: no second line
    h.tca.on_fill(fill("p1", 1, Side.BUY, "1", "100.02", fee="0", ts_ns=h.clock.now_ns()))

    pending, filled = h.records()
    assert (pending["status"], pending["ts"]) == ("pending", "2026-03-02T14:30:30.000000Z")
    assert pending["filled_qty"] == "0"
    assert filled["status"] == "filled"
    assert filled["fill_latency_ms"] == 40_000.0


def test_a_partly_filled_order_canceled_keeps_its_fills_and_counts_as_a_cancel(
    h: Harness,
) -> None:
    h.decide(intent("c1", Side.BUY, "10"), "100")
    h.accept("c1")
    h.decide(intent("c2", Side.BUY, "10", symbol="MSFT"), "300")
    h.accept("c2")
    h.tca.on_fill(fill("c1", 1, Side.BUY, "4", "100.1", fee="0.04", ts_ns=T0))
    h.tca.on_canceled("c1")

    partial, canceled = h.records()
    assert canceled["status"] == "canceled"
    assert Decimal(canceled["filled_qty"]) == 4
    assert canceled["partial"] is True
    assert canceled["is_bps"] == 10.0
    assert partial["cancel_replace"] == {
        "window_s": 3600.0,
        "submitted": 2,
        "cancels": 0,
        "rate": 0.0,
    }
    assert canceled["cancel_replace"]["cancels"] == 1
    assert canceled["cancel_replace"]["rate"] == 0.5


def test_the_cancel_replace_rate_only_counts_the_trailing_window(tmp_path: Path) -> None:
    h = Harness(tmp_path, cancel_window_s=60.0)
    h.decide(intent("w1", Side.BUY, "1"), "100")
    h.accept("w1")
    h.tca.on_canceled("w1")
    h.clock.advance(61)
    h.decide(intent("w2", Side.BUY, "1"), "100")
    h.accept("w2")
    h.tca.on_fill(fill("w2", 1, Side.BUY, "1", "100", fee="0", ts_ns=h.clock.now_ns()))

    early, late = h.records()
    assert early["cancel_replace"]["rate"] == 1.0
    assert late["cancel_replace"] == {"window_s": 60.0, "submitted": 1, "cancels": 0, "rate": 0.0}


def test_fills_and_cancels_of_orders_never_decided_write_nothing(h: Harness) -> None:
    h.tca.on_fill(fill("adopted", 1, Side.BUY, "1", "100", fee="0", ts_ns=T0))
    h.tca.on_canceled("adopted")
    h.tca.on_submitted("adopted", outcome="REJECTED", reason_code=None, submit_price=None)
    h.tca.close()

    assert h.records() == []


def test_close_records_sent_orders_that_have_no_line_yet(h: Harness) -> None:
    h.decide(intent("o1", Side.SELL, "1"), "100")
    h.accept("o1")
    h.decide(intent("o2", Side.SELL, "1"), "100")  # decided, never submitted: nothing to say
    h.tca.close()

    assert [(r["client_order_id"], r["status"]) for r in h.records()] == [("o1", "pending")]


def test_a_non_positive_decision_price_is_refused(h: Harness) -> None:
    with pytest.raises(ValueError, match="decision_price"):
        h.decide(intent("x", Side.BUY, "1"), "0")


def test_an_unknown_submit_outcome_is_refused(h: Harness) -> None:
    h.decide(intent("x", Side.BUY, "1"), "100")
    with pytest.raises(ValueError, match="MAYBE"):
        h.tca.on_submitted("x", outcome="MAYBE", reason_code=None, submit_price=None)


def test_records_carry_the_grouping_keys_the_report_needs(h: Harness) -> None:
    h.decide(intent("g1", Side.BUY, "1"), "100", venue="alpaca")
    h.tca.on_submitted(
        "g1", outcome="NOT_SENT", reason_code="RATE_THROTTLE_BLOCK", submit_price=None
    )

    [rec] = h.records()
    assert {k: rec[k] for k in ("symbol", "side", "sleeve", "profile", "order_type", "venue")} == {
        "symbol": "AAPL",
        "side": "BUY",
        "sleeve": "trend",
        "profile": "balanced",
        "order_type": "MARKET",
        "venue": "alpaca",
    }
    assert rec["qty"] == "1"
