"""A loopback Binance USD-M futures: the ``/fapi`` REST API as ccxt's ``binance`` class calls
it for linear perpetuals (``BTC/USDT:USDT``), on 127.0.0.1.

Same protocol machinery as the spot server (``quantbot.testing.binance``): signed endpoints
check ``X-MBX-APIKEY``, the HMAC-SHA256 signature and ``recvWindow``; faults are armed per
endpoint (``"POST /fapi/v1/order"``) from Python or over ``POST``/``DELETE /__faults``; the
price path moves only on ``tick(n)`` / ``POST /__admin/tick`` in-process and follows the wall
clock when run by hand:

    python -m quantbot.testing.binance_futures --port 8767

then set ``[venue.ccxt] market_type = "future"`` and ``base_url`` to it. Behind it is a
margin account (``binance_futures_book``): a USDT wallet, long or short positions, leverage
per symbol up to 20x (BTCUSDT) or 10x (the others).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from decimal import Decimal
from typing import ClassVar

from quantbot.clock import Clock, LiveClock
from quantbot.testing import binance_futures_wire as fwire
from quantbot.testing.binance import TEST_API_KEY, TEST_API_SECRET, BinanceServer, arg_parser, serve
from quantbot.testing.binance_futures_book import FuturesBook
from quantbot.testing.binance_wire import Endpoint


class BinanceFuturesServer(BinanceServer):
    """One USD-M futures account behind Binance's ``/fapi`` protocol."""

    book: FuturesBook
    NEW_ORDER_IDS: ClassVar[dict[tuple[str, str], tuple[str, ...]]] = {
        ("POST", "/fapi/v1/order"): ("newClientOrderId",),
        ("POST", "/fapi/v1/algoOrder"): ("clientAlgoId",),
    }

    def __init__(
        self,
        *,
        api_key: str = TEST_API_KEY,
        api_secret: str = TEST_API_SECRET,
        book: FuturesBook | None = None,
        wall_clock: Clock | None = None,
        follow_wall_clock: bool = False,
    ) -> None:
        super().__init__(
            api_key=api_key, api_secret=api_secret, book=book or FuturesBook(),
            wall_clock=wall_clock, follow_wall_clock=follow_wall_clock,
        )  # fmt: skip

    def __repr__(self) -> str:
        return (
            f"BinanceFuturesServer(now_ms={self.book.now_ms}, orders={len(self.book.orders)}, "
            f"positions={len(self.book.positions)})"
        )

    def _route(self, method: str, path: str) -> tuple[bool, Endpoint] | None:
        if (method, path) == ("GET", "/fapi/v1/time"):
            return False, self._server_time
        return fwire.ROUTES.get((method, path))


async def _serve(args: argparse.Namespace) -> None:
    wall = LiveClock()
    book = FuturesBook(
        seed=args.seed, start_ms=wall.now_ns() // 1_000_000, wallet=Decimal(args.wallet)
    )
    server = BinanceFuturesServer(
        api_key=args.api_key, api_secret=args.api_secret, book=book, wall_clock=wall,
        follow_wall_clock=True,
    )  # fmt: skip
    symbols = ", ".join(f"{m.base}/{m.quote}:{m.quote}" for m in book.markets.values())
    await serve(server, args, f"binance USD-M futures loopback on {{url}}  (symbols: {symbols})")


def main(argv: list[str] | None = None) -> int:
    """``python -m quantbot.testing.binance_futures --port N``: serve until interrupted."""
    parser = arg_parser("python -m quantbot.testing.binance_futures", port=8767)
    parser.add_argument("--wallet", default="100000", help="USDT in the futures wallet")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
