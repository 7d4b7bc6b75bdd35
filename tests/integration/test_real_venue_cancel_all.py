"""`quantbot cancel-all` with no daemon running, against a real venue's account (the loopback
Alpaca): every working order there is cancelled through the SDK, and exit 0 only then."""

from __future__ import annotations

from pathlib import Path

import orjson

from quantbot.testing.alpaca import TEST_KEY, TEST_SECRET, AlpacaServer
from tests.integration.daemon import run
from tests.integration.loopback import ServerThread


def test_cancel_all_offline_cancels_every_working_order_at_the_venue(workdir: Path) -> None:
    server = AlpacaServer()
    with ServerThread(server) as srv:
        book = server.book
        for n, symbol in enumerate(("AAPL", "MSFT")):
            body = {  # resting far under the market, as POST /v2/orders would make it
                "symbol": symbol, "side": "buy", "qty": "1", "type": "limit",
                "time_in_force": "day", "limit_price": "1.00", "client_order_id": f"left-{n}",
            }  # fmt: skip
            srv.call(lambda body=body: book.submit(body))
        assert len(srv.call(lambda: [o for o in book.orders.values() if o.is_open])) == 2
        env = {
            "QUANTBOT__MARKET__SOURCE": "venue",
            "QUANTBOT__MARKET__SYMBOLS": '["AAPL", "MSFT"]',
            "QUANTBOT__VENUE__NAME": "alpaca",
            "QUANTBOT__VENUE__ALPACA__BASE_URL": srv.url,
            "QUANTBOT__VENUE__ALPACA__DATA_URL": srv.url,
            "APCA_API_KEY_ID": TEST_KEY,
            "APCA_API_SECRET_KEY": TEST_SECRET,
        }
        result = run(workdir, "cancel-all", env=env)
        still_open = srv.call(lambda: [o for o in book.orders.values() if o.is_open])
    assert result.returncode == 0, result.stdout + result.stderr
    assert still_open == []
    report = orjson.loads(result.stdout)
    assert sorted(o["client_order_id"] for o in report["canceled"]) == ["left-0", "left-1"]
    assert report["still_open"] == []
