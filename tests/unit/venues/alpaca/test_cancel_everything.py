"""`quantbot cancel-all`'s loop on Alpaca: what the 207 refused is reported, retried one by
one, and counted as still open, so the command cannot claim success."""

from __future__ import annotations

from pathlib import Path

from quantbot.oms.cancel_all import cancel_everything
from quantbot.oms.journal import Journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import OrderManager
from quantbot.testing.alpaca import AlpacaServer
from quantbot.venues.alpaca.venue import AlpacaVenue
from tests.unit.venues.alpaca.test_venue import intent


async def test_a_cancel_the_venue_refuses_is_reported_and_left_open(
    venue: AlpacaVenue, server: AlpacaServer, tmp_path: Path
) -> None:
    await venue.submit(intent("ok-1", limit="150.00"))
    await venue.submit(intent("stuck-1", symbol="MSFT", limit="300.00"))
    server.refuse_cancel("stuck-1")
    oms = OrderManager(
        journal=Journal(tmp_path / "journal.jsonl", venue_clock := _Clock()),
        ledger=Ledger(),
        venue=venue,
        clock=venue_clock,
    )

    report = await cancel_everything(oms)

    assert [o.client_order_id for o in report.canceled] == ["ok-1"]
    assert [o.client_order_id for o in report.still_open] == ["stuck-1"]
    assert report.ok is False  # `quantbot cancel-all` exits 1
    assert any("cancel all refused stuck-1: 422" in e for e in report.errors)
    assert any(e.startswith("cancel stuck-1: ") for e in report.errors)  # retried one by one


class _Clock:
    def now_ns(self) -> int:
        return 1_763_726_400 * 10**9

    def monotonic_ns(self) -> int:
        return self.now_ns()

    async def sleep(self, seconds: float) -> None:
        raise AssertionError("no sleeping")
