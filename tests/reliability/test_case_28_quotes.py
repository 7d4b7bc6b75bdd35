"""Case 28: a crossed, locked or stale quote blocks new orders with its own reason code, a
quote that cannot be read blocks them too (fail closed), risk-reducing orders never wait on a
quote, and a MARKET order leaves with a protection price at the collar (a LIMIT IOC).

Driven through the real path: the OMS with its gates, breakers and error handler, the real
ccxt SDK against the loopback Binance (whose book serves the faulty ticker), and the daemon
as a subprocess against it, whose decision records carry the reason."""

from __future__ import annotations

import shutil
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from quantbot.config.ops import BreakerConfig, PretradeConfig
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import OrderIntent, Side, SubmitOutcome
from quantbot.oms.journal import read_journal
from quantbot.testing.binance_book import BinanceBook
from quantbot.testing.faults import Fault
from tests.integration.daemon import REPO_ROOT, journal_events, read_jsonl, start
from tests.integration.loopback import ServerThread
from tests.integration.test_real_venues_e2e import COMMON, binance
from tests.reliability import ccxt_rig as shared

BTC, WIRE = "BTC/USDT", "BTCUSDT"
ORDER = "POST /api/v3/order"
TICKER = "GET /api/v3/ticker/24hr"
CONFIG = PretradeConfig(max_data_age_s=600.0, max_quote_age_s=10.0, collar_bps=200.0)


@attrs.define
class Rig(shared.Rig):
    """The shared rig with the daemon's pre-trade and quote gates on (``pretrade=CONFIG``);
    intents carry the last bar's close as their reference price."""

    last: Decimal = Decimal(0)

    async def feed_bars(self) -> None:
        bars = await self.venue.bars(BTC)
        for bar in bars:
            self.gates.on_bar(bar)
        self.last = Decimal(str(bars[-1].close))

    def intent(self, cid: str, side: Side = Side.BUY, qty: str = "0.01") -> OrderIntent:
        return OrderIntent(
            cid, f"d-{cid}", BTC, side, Decimal(qty), arrival_price=self.last, bar_ts_ns=1
        )

    def orders_sent(self) -> int:
        return self.server.requests.count(ORDER)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    book = BinanceBook(balances={"USDT": Decimal(100_000), "BTC": Decimal(1)})
    async with shared.ccxt_rig(
        tmp_path, symbols=[BTC], book=book, pretrade=CONFIG, rig_type=Rig
    ) as built:
        await built.feed_bars()
        yield built


def _touch(r: Rig, bid: Decimal, ask: Decimal) -> None:
    r.server.book.touch_override[WIRE] = (bid, ask)


@pytest.mark.parametrize(
    ("offsets", "code"),
    [((10, -10), ReasonCode.QUOTE_CROSSED_BLOCK), ((0, 0), ReasonCode.QUOTE_LOCKED_BLOCK)],
    ids=["crossed", "locked"],
)
async def test_a_crossed_or_locked_quote_blocks_new_risk_and_nothing_is_sent(
    rig: Rig, offsets: tuple[int, int], code: ReasonCode
) -> None:
    bid, ask = rig.last + offsets[0], rig.last + offsets[1]
    _touch(rig, bid, ask)
    report = await rig.oms.submit(rig.intent("qb-q-1"))
    assert report.outcome is SubmitOutcome.NOT_SENT
    assert report.reason is not None and report.reason.code is code
    assert report.reason.context["bid"] == float(bid)
    assert report.reason.context["ask"] == float(ask)
    assert rig.orders_sent() == 0 and rig.server.book.orders == {}
    assert TICKER in rig.server.requests  # it was read, just before the submit
    assert read_journal(rig.journal_path).events == []  # not even an INTENT


async def test_a_stale_quote_blocks_new_risk_with_its_age(rig: Rig) -> None:
    rig.server.book.ticker_lag_ms[WIRE] = 30_000
    report = await rig.oms.submit(rig.intent("qb-q-1"))
    assert report.outcome is SubmitOutcome.NOT_SENT
    assert report.reason is not None and report.reason.code is ReasonCode.QUOTE_STALE_BLOCK
    assert report.reason.context["age_s"] == pytest.approx(30.0)
    assert report.reason.context["max_age_s"] == 10.0
    assert rig.orders_sent() == 0

    rig.server.book.ticker_lag_ms[WIRE] = 10_000  # exactly at the limit: fresh enough
    report = await rig.oms.submit(rig.intent("qb-q-2"))
    assert report.outcome is SubmitOutcome.ACCEPTED, report.reason
    assert rig.orders_sent() == 1


async def test_a_quote_that_cannot_be_read_fails_closed_then_the_breaker_opens(rig: Rig) -> None:
    rig.server.faults.arm(TICKER, Fault("http_5xx", times=0))
    failures = BreakerConfig().short_failures
    for n in range(failures):
        report = await rig.oms.submit(rig.intent(f"qb-q-{n}"))
        assert report.outcome is SubmitOutcome.NOT_SENT
        assert report.reason is not None
        assert report.reason.code is ReasonCode.QUOTE_UNAVAILABLE_BLOCK
        assert report.reason.context["dependency"] == "quotes_primary"
        assert report.reason.context["cause"] == "NET_RETRY"
    assert rig.breakers.is_open("quotes_primary")
    report = await rig.oms.submit(rig.intent("qb-q-open"))
    assert report.reason is not None
    assert report.reason.code is ReasonCode.CIRCUIT_OPEN_quotes_primary
    assert rig.orders_sent() == 0
    assert any(r.get("dependency") == "quotes_primary" for r in rig.records)  # classified
    assert rig.halts == []


async def test_a_risk_reducing_order_is_not_held_up_by_a_bad_quote(rig: Rig) -> None:
    _touch(rig, rig.last + 10, rig.last - 10)  # crossed
    blocked = await rig.oms.submit(rig.intent("qb-q-in", Side.BUY))
    assert blocked.reason is not None and blocked.reason.code is ReasonCode.QUOTE_CROSSED_BLOCK
    rig.server.faults.arm(TICKER, Fault("http_5xx", times=0))  # and now unreadable too
    asked = rig.server.requests.count(TICKER)
    report = await rig.oms.submit(rig.intent("qb-q-out", Side.SELL), reducing=True)
    assert report.outcome is SubmitOutcome.ACCEPTED, report.reason
    assert rig.server.requests.count(TICKER) == asked  # no quote was even asked for
    assert rig.orders_sent() == 1


async def test_a_market_order_goes_as_a_limit_ioc_at_the_collar(rig: Rig) -> None:
    report = await rig.oms.submit(rig.intent("qb-q-buy"))
    assert report.outcome is SubmitOutcome.ACCEPTED, report.reason
    [order] = rig.server.book.orders.values()
    cap = rig.last * Decimal("1.02")  # collar_bps = 200 from the reference price
    assert (order.type, order.tif) == ("LIMIT", "IOC")
    assert order.price == cap.quantize(Decimal("0.01"))
    assert order.status == "FILLED"  # marketable: filled at the touch, inside the cap
    [intent_line] = [e for e in read_journal(rig.journal_path).events if e["type"] == "INTENT"]
    assert (intent_line["order_type"], Decimal(intent_line["limit_price"])) == ("MARKET", cap)

    report = await rig.oms.submit(rig.intent("qb-q-sell", Side.SELL), reducing=True)
    assert report.outcome is SubmitOutcome.ACCEPTED, report.reason
    sell = rig.server.book.orders[max(rig.server.book.orders)]
    assert (sell.type, sell.tif) == ("LIMIT", "IOC")
    assert sell.price == (rig.last * Decimal("0.98")).quantize(Decimal("0.01"))


# -- the daemon, as a subprocess against the loopback Binance ---------------------------------


@pytest.mark.e2e
def test_the_daemon_sends_nothing_on_a_crossed_quote_and_records_why(tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / "config.toml", tmp_path / "config.toml")
    server, env = binance()
    book = server.book
    for wire in ("BTCUSDT", "ETHUSDT"):
        price = book.price(wire)
        book.touch_override[wire] = (price * Decimal("1.001"), price * Decimal("0.999"))
    with ServerThread(server) as srv:
        env["QUANTBOT__VENUE__CCXT__BASE_URL"] = srv.url
        proc = start(
            tmp_path, "run", "--execution-mode", "paper", "--duration", "9s", env={**COMMON, **env}
        )
        while proc.poll() is None:  # the market moves a minute every 0.1 s; the quote stays
            srv.call(lambda: server.tick(1))
            time.sleep(0.1)
        _out, err = proc.communicate(timeout=30)
        requests = srv.call(lambda: list(server.requests))
        orders = srv.call(lambda: dict(book.orders))
    assert proc.returncode == 0, err[-3000:]
    assert ORDER not in requests and orders == {}
    assert TICKER in requests
    records = read_jsonl(tmp_path / "runtime" / "decisions.jsonl")
    blocked = [r for r in records if (r.get("order") or {}).get("outcome") == "NOT_SENT"]
    assert blocked, "the daemon never wanted to trade"
    for record in blocked:
        why = record["order"]["reason"]
        assert why["code"] == "QUOTE_CROSSED_BLOCK", record
        assert why["bid"] > why["ask"]
    assert not journal_events(tmp_path, "INTENT")


async def test_a_protected_order_the_book_cannot_fill_within_the_collar_ends_unfilled(
    rig: Rig,
) -> None:
    # A sane quote (fresh, not crossed) whose ask is 5% over the reference: beyond the collar.
    ask = (rig.last * Decimal("1.05")).quantize(Decimal("0.01"))
    _touch(rig, ask - Decimal("0.01"), ask)
    report = await rig.oms.submit(rig.intent("qb-q-far"))
    assert report.outcome is SubmitOutcome.REJECTED
    assert report.reason is not None and report.reason.code is ReasonCode.VENUE_REJECTED
    assert report.reason.context["status"] == "EXPIRED"
    assert report.reason.context["check"] == "protection_price"
    [order] = rig.server.book.orders.values()
    assert (order.tif, order.status, order.executed) == ("IOC", "EXPIRED", 0)
    assert rig.oms.ledger.open_orders() == []  # over at once: nothing left counting as working
    assert rig.server.book.trades == []
