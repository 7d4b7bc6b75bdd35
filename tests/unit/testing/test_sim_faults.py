"""The paper venue's fault plan (QUANTBOT_SIM_FAULTS): which submit a rule faults.

A rule counts every call of its endpoint, or, with ``when``, only the submits whose order has
the named intent fields: the order the venue saw or refused is what these tests look at.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.domain.errors import VenueRateLimited
from quantbot.domain.values import (
    Bar,
    ExitRole,
    Instrument,
    OrderIntent,
    OrderType,
    Side,
    SubmitOutcome,
)
from quantbot.ops.runtime_contract import TESTING_ENV
from quantbot.testing.sim_faults import FaultRule, FaultyVenue, parse_plan
from quantbot.venues.sim.venue import SimVenue

T0 = 1_763_726_400 * NS_PER_S
SYMBOL = "SIMA"
ACCEPTED, REJECTED = SubmitOutcome.ACCEPTED, SubmitOutcome.REJECTED


@pytest.fixture(autouse=True)
def testing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TESTING_ENV, "1")


def venue(tmp_path: Path, plan: str) -> tuple[FaultyVenue, SimVenue]:
    clock = SimClock(T0)
    sim = SimVenue(
        clock=clock,
        instruments={SYMBOL: Instrument(SYMBOL, "0.01", "1")},
        state_path=tmp_path / "sim_venue.json",
        initial_cash=Decimal(100_000),
        fee_bps=0,
        slippage_bps=0,
        participation_cap=1.0,
    )
    sim.on_bar(Bar(SYMBOL, T0 - 60 * NS_PER_S, 100.0, 100.5, 99.5, 100.0, 1e6, 60))
    return FaultyVenue(sim, parse_plan(plan), clock), sim


def entry(n: int) -> OrderIntent:
    """A BUY limit resting below the market (no fill, nothing else changes)."""
    return OrderIntent(
        f"qb-entry-{n}",
        f"d{n}",
        SYMBOL,
        Side.BUY,
        Decimal(1),
        order_type=OrderType.LIMIT,
        limit_price=Decimal("90"),
    )


def leg(n: int, role: ExitRole) -> OrderIntent:
    """A SELL exit leg resting away from the market: a stop below it, a limit above."""
    if role is ExitRole.TAKE_PROFIT:
        kind = {"order_type": OrderType.LIMIT, "limit_price": Decimal("110")}
    else:
        kind = {"order_type": OrderType.STOP, "stop_price": Decimal("95")}
    return OrderIntent(
        f"qb-{role.value}-{n}",
        f"exit:{n}",
        SYMBOL,
        Side.SELL,
        Decimal(1),
        exit_role=role,
        oco_group=f"oco-{n}",
        **kind,
    )


def plan(*rules: dict, endpoint: str = "submit") -> str:
    return orjson.dumps({endpoint: list(rules)}).decode()


async def held(sim: SimVenue) -> set[str]:
    """The client ids of the orders the venue holds open."""
    return {o.client_order_id for o in await sim.open_orders()}


async def outcomes(v: FaultyVenue, intents: list[OrderIntent]) -> list[SubmitOutcome]:
    return [(await v.submit(i)).outcome for i in intents]


async def test_when_faults_the_first_order_with_that_exit_role_only(tmp_path: Path) -> None:
    v, sim = venue(tmp_path, plan({"fault": "reject", "when": {"exit_role": "stop_loss"}}))
    sent = [entry(1), leg(1, ExitRole.TAKE_PROFIT), leg(1, ExitRole.STOP_LOSS)]
    sent += [entry(2), leg(2, ExitRole.STOP_LOSS)]

    assert await outcomes(v, sent) == [ACCEPTED, ACCEPTED, REJECTED, ACCEPTED, ACCEPTED]
    assert await held(sim) == {"qb-entry-1", "qb-take_profit-1", "qb-entry-2", "qb-stop_loss-2"}


async def test_when_counts_matching_orders_for_after_calls_and_times(tmp_path: Path) -> None:
    rule = {"fault": "reject", "after_calls": 1, "times": 2, "when": {"side": "SELL"}}
    v, _sim = venue(tmp_path, plan(rule))
    sells = [leg(n, ExitRole.STOP_LOSS) for n in range(4)]
    sent = [entry(0), sells[0], entry(1), sells[1], sells[2], entry(2), sells[3]]

    got = await outcomes(v, sent)

    # The 2nd and 3rd SELL are refused, whatever the BUYs between them.
    assert got == [ACCEPTED, ACCEPTED, ACCEPTED, REJECTED, REJECTED, ACCEPTED, ACCEPTED]


async def test_when_with_several_fields_needs_all_of_them(tmp_path: Path) -> None:
    when = {"exit_role": "stop_loss", "order_type": "LIMIT", "symbol": SYMBOL}
    v, _sim = venue(tmp_path, plan({"fault": "reject", "times": -1, "when": when}))

    # No stop-loss here is a LIMIT, no LIMIT here is a stop-loss: nothing matches.
    sent = [entry(1), leg(1, ExitRole.STOP_LOSS), leg(1, ExitRole.TAKE_PROFIT)]
    assert await outcomes(v, sent) == [ACCEPTED] * 3


async def test_an_oco_pair_matches_when_either_leg_does(tmp_path: Path) -> None:
    v, sim = venue(tmp_path, plan({"fault": "rate_limit", "when": {"exit_role": "stop_loss"}}))

    with pytest.raises(VenueRateLimited):
        await v.submit_oco(leg(1, ExitRole.TAKE_PROFIT), leg(1, ExitRole.STOP_LOSS))
    assert not await held(sim), "the venue saw an order the fault should have stopped"

    results = await v.submit_oco(leg(2, ExitRole.TAKE_PROFIT), leg(2, ExitRole.STOP_LOSS))
    assert [r.outcome for r in results] == [ACCEPTED, ACCEPTED]


async def test_a_plan_without_when_still_counts_every_submit(tmp_path: Path) -> None:
    v, _sim = venue(tmp_path, plan({"fault": "reject", "after_calls": 2}))
    sent = [entry(1), leg(1, ExitRole.STOP_LOSS), entry(2), leg(2, ExitRole.STOP_LOSS)]

    assert await outcomes(v, sent) == [ACCEPTED, ACCEPTED, REJECTED, ACCEPTED]


async def test_an_armed_rule_with_when_counts_matches_from_zero(tmp_path: Path) -> None:
    v, _sim = venue(tmp_path, "{}")
    assert await outcomes(v, [entry(1), entry(2)]) == [ACCEPTED, ACCEPTED]

    v.arm("submit", FaultRule("reject", when={"exit_role": "take_profit"}))

    sent = [leg(1, ExitRole.STOP_LOSS), leg(1, ExitRole.TAKE_PROFIT), leg(2, ExitRole.TAKE_PROFIT)]
    assert await outcomes(v, sent) == [ACCEPTED, REJECTED, ACCEPTED]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (plan({"fault": "crash_before", "when": {"exit_rol": "stop_loss"}}), "'exit_rol'"),
        (plan({"fault": "crash_before", "when": {"exit_role": "STOP_LOSS"}}), "stop_loss"),
        (plan({"fault": "crash_before", "when": {"side": "sell"}}), "'SELL'"),
        (plan({"fault": "crash_before", "when": {}}), "'when' must be an object"),
        (plan({"fault": "crash_before", "when": ["stop_loss"]}), "'when' must be an object"),
        (
            plan({"fault": "server_error", "when": {"symbol": SYMBOL}}, endpoint="cancel"),
            "only submit rules",
        ),
    ],
)
def test_a_when_no_order_could_match_is_an_error_naming_it(text: str, named: str) -> None:
    with pytest.raises(ValueError, match="QUANTBOT_SIM_FAULTS") as refused:
        parse_plan(text)
    assert named in str(refused.value)


def test_the_crash_plan_of_the_emulated_exit_drill_parses() -> None:
    text = plan({"fault": "crash_before", "when": {"exit_role": "stop_loss"}})

    (rule,) = parse_plan(text)["submit"]

    assert rule.fault == "crash_before" and rule.when == {"exit_role": "stop_loss"}
    assert rule.matches([leg(1, ExitRole.STOP_LOSS)])
    assert not rule.matches([leg(1, ExitRole.TAKE_PROFIT), entry(1)])


async def test_late_visibility_hides_an_order_and_its_fills_until_the_plan_is_spent(
    tmp_path: Path,
) -> None:
    rule = {"fault": "late_visibility", "times": 2}
    text = orjson.dumps(
        {"order_by_client_id": [rule], "open_orders": [rule], "fills_since": [rule]}
    ).decode()
    v, sim = venue(tmp_path, text)
    buy = OrderIntent("qb-buy-1", "d1", SYMBOL, Side.BUY, Decimal(1))
    assert (await v.submit(buy)).outcome is ACCEPTED
    sim.on_bar(Bar(SYMBOL, T0, 100.0, 100.5, 99.5, 100.0, 1e6, 60))  # it fills at the open
    assert [f.client_order_id for f in await sim.fills_since(0)] == ["qb-buy-1"]

    for _ in range(2):  # the venue does not show it yet: no such order, no trades
        assert await v.order_by_client_id("qb-buy-1") is None
        assert await v.fills_since(0) == []
        assert await v.open_orders() == []

    shown = await v.order_by_client_id("qb-buy-1")
    assert (shown is not None and shown.status is SubmitOutcome.ACCEPTED) or shown.filled_qty == 1
    assert [f.client_order_id for f in await v.fills_since(0)] == ["qb-buy-1"], "nothing lost"


@pytest.mark.parametrize("endpoint", ["submit", "cancel", "positions", "account"])
def test_late_visibility_is_only_a_reads_fault(endpoint: str) -> None:
    with pytest.raises(ValueError, match="late_visibility is a read's fault"):
        parse_plan(plan({"fault": "late_visibility"}, endpoint=endpoint))
