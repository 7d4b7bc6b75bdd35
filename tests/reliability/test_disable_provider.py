"""Issue 22 item 1: DISABLE_PROVIDER disables. A truncated order reply (the loopback Binance's
``truncated_json`` fault: the order is taken, the reply cut in half) is PROVIDER_SCHEMA, whose
action is DISABLE_PROVIDER: ``broker_submit`` is then refused for ``[providers] disable_s`` (the
next order is NOT_SENT with PROVIDER_DISABLED and never reaches the venue), the record and an
alert say until when and that orders are blocked, and once the time is over orders flow again
(a PROVIDER_ENABLED line and alert).

In-process on a simulated clock (the real OMS and ccxt SDK against the loopback Binance), and
the daemon as a subprocess against it with a short window."""

from __future__ import annotations

import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from quantbot.config.providers import ProvidersConfig
from quantbot.domain.errors import VenueSchemaError
from quantbot.domain.reasons import Reason, ReasonCode
from quantbot.domain.values import SubmitOutcome
from quantbot.ops.errors import ErrorHandler
from quantbot.ops.providers import ProviderSwitch
from quantbot.testing.faults import Fault
from tests.integration.daemon import REPO_ROOT, read_jsonl, start
from tests.integration.loopback import ServerThread
from tests.integration.test_real_venues_e2e import COMMON, binance
from tests.reliability import ccxt_rig as shared
from tests.reliability.ccxt_rig import ORDER, Rig, intent

WINDOW_S = 30.0


class Events:
    """What the switch writes and alerts, as the daemon's records and alerts.jsonl get it."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []
        self.alerts: list[tuple[ReasonCode, dict[str, Any]]] = []

    def write_event(self, event: str, why: Reason, **extra: Any) -> None:
        self.lines.append({"event": event, "reason": why.to_record(), **extra})

    def alert(self, code: ReasonCode, **context: Any) -> None:
        self.alerts.append((code, context))


@pytest.fixture
async def wired(tmp_path: Path) -> AsyncIterator[tuple[Rig, Events]]:
    async with shared.ccxt_rig(tmp_path) as rig:
        events = Events()
        switch = ProviderSwitch(
            ProvidersConfig(disable_s=WINDOW_S),
            rig.clock,
            write_event=events.write_event,
            alert=events.alert,
        )
        # As services.open_services wires them: the one error handler disables through it.
        rig.oms.errors = ErrorHandler(
            on_halt=rig.halts.append,
            on_skip_symbol=lambda s, r: None,
            on_disable_provider=switch.disable,
            record=rig.records.append,
            breakers=rig.breakers,
        )
        rig.oms.providers = switch
        yield rig, events


async def test_a_truncated_order_reply_blocks_orders_for_the_window_then_they_flow(
    wired: tuple[Rig, Events],
) -> None:
    rig, events = wired
    rig.server.faults.arm(ORDER, Fault("truncated_json"))
    first = await rig.oms.submit(intent(1))
    assert first.outcome is SubmitOutcome.UNKNOWN  # taken, its reply unreadable
    assert first.reason is not None and first.reason.context["cause"] == "PROVIDER_SCHEMA_DISABLE"
    assert rig.server.requests.count(ORDER) == 1

    [disabled] = [e for e in events.lines if e["event"] == "PROVIDER_DISABLED"]
    why = disabled["reason"]
    assert why["code"] == "PROVIDER_DISABLED" and why["provider"] == "broker_submit"
    assert why["cause"] == "PROVIDER_SCHEMA_DISABLE" and why["fallback"] is None
    assert why["disable_s"] == WINDOW_S and why["blocks"].startswith("new orders")
    [(code, context)] = events.alerts
    assert code is ReasonCode.ALERT_PROVIDER_DISABLED
    assert (context["dependency"], context["until"]) == ("broker_submit", why["until"])

    rig.clock.advance(1.0)  # a second later: the order the old code sent
    second = await rig.oms.submit(intent(2))
    assert second.outcome is SubmitOutcome.NOT_SENT
    assert second.reason is not None and second.reason.code is ReasonCode.PROVIDER_DISABLED
    assert second.reason.context["until"] == why["until"]
    rig.clock.advance(WINDOW_S - 1.5)  # still inside the window
    assert (await rig.oms.submit(intent(3))).outcome is SubmitOutcome.NOT_SENT
    assert rig.server.requests.count(ORDER) == 1  # nothing reached the venue
    assert not rig.journal("INTENT")[1:]  # not even journaled as intended

    rig.clock.advance(1.0)  # the window is over
    after = await rig.oms.submit(intent(4))
    assert after.outcome is SubmitOutcome.ACCEPTED, after.reason
    assert rig.server.requests.count(ORDER) == 2
    [enabled] = [e for e in events.lines if e["event"] == "PROVIDER_ENABLED"]
    assert enabled["reason"]["provider"] == "broker_submit"
    assert enabled["reason"]["disabled_until"] == why["until"]
    assert [c for c, _ in events.alerts][1:] == [ReasonCode.ALERT_PROVIDER_ENABLED]
    assert rig.halts == []


async def test_a_disabled_read_provider_is_refused_like_an_open_breaker(
    wired: tuple[Rig, Events],
) -> None:
    rig, events = wired
    bad = VenueSchemaError("bar reply of the wrong shape")
    rig.oms.errors.handle(bad, dependency="data_primary")
    asked = len(rig.server.requests)
    bars = await rig.oms.read_or_none("data_primary", lambda: rig.venue.bars(shared.BTC))
    assert bars is None and len(rig.server.requests) == asked  # not even asked
    [line] = events.lines
    assert line["reason"]["provider"] == "data_primary"
    assert line["reason"]["blocks"].startswith("bar reads")
    rig.clock.advance(WINDOW_S)
    assert await rig.oms.read_or_none("data_primary", lambda: rig.venue.bars(shared.BTC))
    assert [e["event"] for e in events.lines] == ["PROVIDER_DISABLED", "PROVIDER_ENABLED"]


# -- the daemon, as a subprocess against the loopback Binance ---------------------------------

DAEMON_WINDOW_S = 4.0


def _orders(records: list[dict]) -> list[dict]:
    """The order of every decision record that has one, in file order."""
    return [r["order"] for r in records if r.get("order")]


def _run_until_orders_flow_again(tmp_path: Path) -> tuple[list[dict], set[int], int]:
    """The daemon, its first order's reply truncated, run until an order goes out after the
    provider is re-enabled: its records, the venue's order counts looked at while it was
    disabled, and the venue's order count at the end."""
    shutil.copy(REPO_ROOT / "config.toml", tmp_path / "config.toml")
    server, env = binance()
    server.faults.arm(ORDER, Fault("truncated_json"))  # the first order's reply, cut in half
    env["QUANTBOT__PROVIDERS__DISABLE_S"] = str(DAEMON_WINDOW_S)
    decisions = tmp_path / "runtime" / "decisions.jsonl"

    def records() -> list[dict]:
        return read_jsonl(decisions) if decisions.exists() else []

    def flowing_again() -> bool:
        lines = records()
        enabled = [i for i, r in enumerate(lines) if r.get("event") == "PROVIDER_ENABLED"]
        sent = [r for r in lines[enabled[0] :] if (r.get("order") or {}).get("outcome")
                in ("ACCEPTED", "REJECTED", "UNKNOWN")] if enabled else []  # fmt: skip
        return bool(sent)

    seen_while_disabled: set[int] = set()  # the venue's order count, looked at in the window

    def look() -> None:
        # The count first, then the records: a PROVIDER_ENABLED line is flushed before the
        # order after it goes out, so a count read while no such line exists yet is one
        # taken inside the window.
        count = srv.call(lambda: server.requests.count(ORDER))
        events = {r.get("event") for r in records()}
        if "PROVIDER_DISABLED" in events and "PROVIDER_ENABLED" not in events:
            seen_while_disabled.add(count)

    with ServerThread(server) as srv:
        env["QUANTBOT__VENUE__CCXT__BASE_URL"] = srv.url
        proc = start(tmp_path, "run", "--execution-mode", "paper", env={**COMMON, **env})
        try:
            deadline = time.monotonic() + 90
            while not flowing_again():  # the market moves a minute every 0.1 s
                look()
                assert proc.poll() is None, proc.communicate()[1][-3000:]
                assert time.monotonic() < deadline, "orders never flowed again"
                srv.call(lambda: server.tick(1))
                time.sleep(0.1)
        finally:
            proc.terminate()
            _out, err = proc.communicate(timeout=30)
        sent_at_venue = srv.call(lambda: server.requests.count(ORDER))
    assert proc.returncode == 0, err[-3000:]
    return records(), seen_while_disabled, sent_at_venue


@pytest.mark.e2e
def test_the_daemon_sends_no_order_while_broker_submit_is_disabled(tmp_path: Path) -> None:
    lines, seen_while_disabled, sent_at_venue = _run_until_orders_flow_again(tmp_path)
    [at_disable] = [i for i, r in enumerate(lines) if r.get("event") == "PROVIDER_DISABLED"]
    [at_enable] = [i for i, r in enumerate(lines) if r.get("event") == "PROVIDER_ENABLED"]
    disabled, enabled = lines[at_disable], lines[at_enable]
    why = disabled["reason"]
    assert (why["provider"], why["cause"]) == ("broker_submit", "PROVIDER_SCHEMA_DISABLE")
    assert why["fallback"] is None and why["blocks"].startswith("new orders")
    assert enabled["reason"]["disabled_until"] == why["until"]
    assert enabled["ts"] >= why["until"]
    # Record lines are written in the order things happen (a decision's line once its order's
    # outcome is known): the truncated one, taken by the venue, its outcome unknown ...
    first, *inside = _orders(lines[at_disable:at_enable])
    assert first["outcome"] == "UNKNOWN" and first["reason"]["cause"] == "PROVIDER_SCHEMA_DISABLE"
    assert inside, "the daemon wanted no order inside the window: nothing was tested"
    for order in inside:  # ... then each order wanted inside the window says why not, until when
        assert order["outcome"] == "NOT_SENT", order
        assert order["reason"]["code"] == "PROVIDER_DISABLED", order
        assert order["reason"]["until"] == why["until"]
    after = _orders(lines[at_enable:])
    assert after[0]["outcome"] == "ACCEPTED", after[0]
    # The venue saw the truncated order, none from inside the window, and more after it.
    assert seen_while_disabled == {1}
    assert sent_at_venue >= 2

    alerts = read_jsonl(tmp_path / "runtime" / "alerts.jsonl")
    said = [(a["alert"], a.get("dependency")) for a in alerts if "PROVIDER" in a["alert"]]
    assert said == [
        ("ALERT_PROVIDER_DISABLED", "broker_submit"),
        ("ALERT_PROVIDER_ENABLED", "broker_submit"),
    ]
