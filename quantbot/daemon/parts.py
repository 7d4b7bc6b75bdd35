"""The parts of a started run, built once by the daemon's ``start`` and frozen: what status,
the manifest and the operator loop read, handed to them instead of the daemon itself."""

from __future__ import annotations

from decimal import Decimal

import attrs

from quantbot.analytics.tca import TcaRecorder
from quantbot.daemon.intake import IntentIntake
from quantbot.daemon.operator import ControlLoop
from quantbot.daemon.order_side import OrderSide
from quantbot.daemon.pipeline import Pipeline
from quantbot.daemon.services import Services
from quantbot.decision.step import DecisionStep
from quantbot.domain.values import Instrument
from quantbot.marketdata.venue_stream import VenueStream
from quantbot.oms.manager import OrderManager
from quantbot.risk.daily import DailyRiskGuard
from quantbot.risk.drawdown import DrawdownBreaker
from quantbot.venues.base import OrderVenue


@attrs.frozen
class Parts:
    run_id: str
    mode: str
    services: Services
    venue: OrderVenue
    instruments: dict[str, Instrument]
    start_equity: Decimal | None  # a broker's equity at start (the embedded venue: None)
    daily: DailyRiskGuard
    drawdown: DrawdownBreaker | None  # None: off, or shadow mode
    tca: TcaRecorder
    order_side: OrderSide | None  # None in shadow mode: nothing is ever sent
    operator: ControlLoop  # kill/control polling, reconciliation, status, the socket's commands
    step: DecisionStep
    pipeline: Pipeline
    intake: IntentIntake | None
    venue_stream: VenueStream | None

    @property
    def oms(self) -> OrderManager | None:
        return self.order_side.oms if self.order_side is not None else None
