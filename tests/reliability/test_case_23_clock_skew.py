"""Case 23: the venue refuses signed calls for clock skew (Binance -1021 "Timestamp for this
request is outside of the recvWindow").

Must be: the offset to the venue's clock is re-measured and reads are retried; a submit the
venue refused for its timestamp is NOT_SENT (``VENUE_CLOCK_SKEW``, with the measured offset),
and the next one goes through; skew that keeps coming back despite re-syncing halts trading
with ``HALT_CLOCK_SKEW`` and an alert.

The real ccxt client, the real OMS (journal, ledger, error handler, breakers, bounded read
retries) against the loopback Binance, whose clock is set off the wall clock. ccxt signs with
``recvWindow`` 10 s, so the skews here are 30 s: outside it either way, whatever the latency.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from quantbot.config.ops import RetryConfig
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import OrderIntent, OrderType, Side, SubmitOutcome
from quantbot.oms.manager import ORDERS, POSITIONS
from quantbot.testing.binance import BinanceServer
from quantbot.testing.binance_book import BinanceBook
from tests.integration.daemon import REPO_ROOT, read_jsonl, start, wait_until
from tests.integration.loopback import ServerThread
from tests.reliability.ccxt_rig import BTC, ORDER, Rig, ccxt_rig

SKEW_MS = 30_000
TIME = "GET /api/v3/time"


# Up to three attempts at a read, no back-off; the venue's default clock_skew_halt_after = 3
# halts on the third refusal in a row.
RETRY = RetryConfig(max_attempts=3, initial_backoff_s=0, max_backoff_s=0, jitter_s=0)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with ccxt_rig(tmp_path, symbols=[BTC], retry=RETRY) as built:
        yield built


def buy(cid: str) -> OrderIntent:
    return OrderIntent(cid, f"d-{cid}", "BTC/USDT", Side.BUY, Decimal("0.01"), OrderType.MARKET)


@pytest.mark.parametrize("skew_ms", [SKEW_MS, -SKEW_MS], ids=["venue-ahead", "venue-behind"])
async def test_a_submit_refused_for_its_timestamp_is_not_sent_and_the_next_goes_through(
    rig: Rig, skew_ms: int
) -> None:
    rig.server.skew(skew_ms)

    refused = await rig.oms.submit(buy("qb-skew-1"))

    assert refused.outcome is SubmitOutcome.NOT_SENT  # not REJECTED: the clock, not the order
    assert refused.reason is not None and refused.reason.code is ReasonCode.VENUE_CLOCK_SKEW
    measured = refused.reason.context["venue_ahead_ms"]
    assert abs(measured - skew_ms) < 2_000, measured
    assert rig.server.book.orders == {}
    [not_sent] = rig.journal("NOT_SENT")
    assert not_sent["client_order_id"] == "qb-skew-1" and "VENUE_CLOCK_SKEW" in not_sent["reason"]
    assert rig.server.requests[-2:] == [ORDER, TIME]  # refused, then re-synced

    accepted = await rig.oms.submit(buy("qb-skew-2"))

    assert accepted.outcome is SubmitOutcome.ACCEPTED
    assert [o.cid for o in rig.server.book.orders.values()] == ["qb-skew-2"]
    assert rig.halts == []


async def test_reads_are_retried_after_an_automatic_resync(rig: Rig) -> None:
    await rig.oms.submit(buy("qb-before"))  # something to read back
    rig.server.skew(SKEW_MS)

    positions = await rig.oms.read(POSITIONS, rig.venue.positions)
    rig.server.skew(-SKEW_MS)
    working = await rig.oms.read(ORDERS, rig.venue.open_orders)
    fills = await rig.oms.sync_fills()

    assert positions["BTC/USDT"].qty == Decimal("0.01")
    assert working == [] and fills == 1
    assert rig.server.requests.count(TIME) == 1 + 2  # connect, then one re-sync per skew
    assert rig.halts == [] and rig.records == []


async def test_skew_that_comes_back_after_every_resync_halts_trading(rig: Rig) -> None:
    # The venue's time endpoint keeps telling the true time while its signature check runs
    # 30 s ahead: every re-sync measures the wrong offset and the next request is refused.
    rig.server.skew(SKEW_MS, resync_fixes=False)

    read = await rig.oms.poll_fills()  # three attempts, three refusals: the third halts

    assert read == 0
    [halt] = rig.halts
    assert halt.code is ReasonCode.HALT_CLOCK_SKEW
    assert halt.context["dependency"] == ORDERS and "3 times" in halt.context["error"]
    assert rig.records[-1]["action"] == "HALT_TRADING"
    assert rig.server.requests.count(TIME) == 1 + 3

    after = await rig.oms.submit(buy("qb-after-halt"))

    assert after.outcome is SubmitOutcome.NOT_SENT  # refused for its timestamp: never taken
    assert after.reason is not None and after.reason.code is ReasonCode.HALT_CLOCK_SKEW
    assert rig.server.book.orders == {}


# -- the daemon ----------------------------------------------------------------------------------

KEY = "c23KEYa1b2c3d4"
SECRET = "c23SECRETe5f6g7h8"
MINUTE_MS = 60_000
# As tests/integration/test_real_venues_e2e.py: the market starts two hours back and moves a
# minute per tick, so every bar is closed (and old): staleness limits are opened up for that.
DAEMON_ENV = {
    "QUANTBOT__MARKET__SOURCE": "venue",
    "QUANTBOT__MARKET__SYMBOLS": '["BTC/USDT"]',
    "QUANTBOT__VENUE__NAME": "ccxt",
    "QUANTBOT__VENUE__CCXT__POLL_INTERVAL_S": "0.2",
    "QUANTBOT__VENUE__CCXT__TIMEOUT_S": "3",
    "QUANTBOT__VENUE__CCXT__CLOCK_SKEW_HALT_AFTER": "3",
    "QUANTBOT__DATA_CONTRACT__MAX_STALENESS_S": "100000",
    "QUANTBOT__PRETRADE__MAX_DATA_AGE_S": "100000",
    "QUANTBOT__PRETRADE__COLLAR_WINDOW_S": "100000",
    "QUANTBOT_CCXT_API_KEY": KEY,
    "QUANTBOT_CCXT_SECRET": SECRET,
}


def _alerts(workdir: Path) -> list[dict[str, Any]]:
    path = workdir / "runtime" / "alerts.jsonl"
    return read_jsonl(path) if path.exists() else []


def _halted(workdir: Path) -> bool:
    return any(a.get("halt_code") == "HALT_CLOCK_SKEW" for a in _alerts(workdir))


@pytest.mark.e2e
def test_the_daemon_halts_with_an_alert_when_skew_keeps_coming_back(tmp_path: Path) -> None:
    workdir = tmp_path
    (workdir / "config.toml").write_bytes((REPO_ROOT / "config.toml").read_bytes())
    now_ms = int(time.time() * 1000)
    book = BinanceBook(start_ms=now_ms - now_ms % MINUTE_MS - 120 * MINUTE_MS)
    server = BinanceServer(api_key=KEY, api_secret=SECRET, book=book)
    with ServerThread(server) as srv:
        env = {**DAEMON_ENV, "QUANTBOT__VENUE__CCXT__BASE_URL": srv.url}
        proc = start(workdir, "run", "--execution-mode", "paper", "--duration", "60s", env=env)
        try:
            manifests = workdir / "runtime" / "manifests"
            wait_until(
                lambda: manifests.exists() and any(manifests.glob("*.json")),
                timeout=30,
                what="the daemon to start",
                proc=proc,
            )
            _post_skew(srv.url, {"ms": SKEW_MS, "resync_fixes": False})  # as a person would
            deadline = time.monotonic() + 30
            while not _halted(workdir) and proc.poll() is None and time.monotonic() < deadline:
                srv.call(lambda: server.tick(1))  # new bars: the daemon reads (signed) again
                time.sleep(0.1)
        finally:
            proc.terminate()
            out, err = proc.communicate(timeout=30)
    assert _halted(workdir), err[-3000:]
    control = orjson.loads((workdir / "state" / "control.json").read_bytes())
    assert control["halt_code"] == "HALT_CLOCK_SKEW", control
    [alert] = [a for a in _alerts(workdir) if a["alert"] == "ALERT_HALT_TRADING"]
    assert alert["halt_code"] == "HALT_CLOCK_SKEW" and "venue_ahead_ms" in alert
    assert KEY not in out + err and SECRET not in out + err


def _post_skew(url: str, body: dict[str, Any]) -> None:
    async def post() -> None:
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{url}/__admin/skew", json=body) as reply,
        ):
            assert reply.status == 200, await reply.text()

    asyncio.run(post())
