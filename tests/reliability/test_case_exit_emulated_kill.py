"""Issue 16's crash drill for emulated exits: the daemon is SIGKILLed after an emulated stop's
trigger price was crossed, and on restart the exit goes out once, never twice.

The daemon runs as a user runs it (``quantbot run --execution-mode paper`` in a temporary
directory, the synthetic market, fast bars, the aggressive profile) with every exit emulated
(``orders.prefer = "emulated"``: nothing rests at the venue, the daemon watches the stop) and
a stop 0.05% from the entry, so a position is stopped out within a few bars. The SIGKILL comes
from the paper venue's fault plan, picked by what the order is: the first submit whose
intent has ``exit_role = stop_loss``:

- ``crash_before``: after the exit's INTENT is durable, before the venue sees it. The journal
  holds EXIT TRIGGERED (fired=stop_loss, fired_cid=X) and INTENT X with no outcome. The
  restart cannot know whether X went out: UNKNOWN until the venue proves it never had X
  (NOT_SENT), and only then the exit goes out under a new id: one exit order in all.
- ``crash_after_accept``: after the venue accepted X, before its ACK line. The restart finds
  X at the venue (RECONCILE_ADOPTED) and sends nothing more: one exit order in all.
- ``crash_after_accept``, and after the restart the venue does not show X nor its fill for a
  while (``late_visibility``): X stays UNKNOWN through several batches, and an UNKNOWN exit
  is waited for, never sent again. (The start-up reconciliation settles X before the exit
  manager first looks at it in the two drills above; only here does it see X UNKNOWN.)

Each is judged by what a user can read: the exit status, the journal, the run manifest and
the paper venue's persisted book (``state/sim_venue.json``).
"""

from __future__ import annotations

import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from tests.integration.daemon import journal_events, run

pytestmark = pytest.mark.e2e

PAPER = ("run", "--execution-mode", "paper", "--trading-mode", "aggressive")
OUTCOMES = {"ACK", "REJECT", "NOT_SENT", "UNKNOWN"}
STOP = "stop_loss"
HIDDEN_READS = 20  # of each kind, after a restart: several bars' batches
# Every exit watched by the daemon, only the stop-loss leg, and a stop 0.05% away whatever
# harvest policy the sizer picks: a stop-out within a few bars of the synthetic market.
EMULATED_STOPS = {
    "QUANTBOT__ORDERS__PREFER": "emulated",
    "QUANTBOT__ORDERS__EXIT_LEGS": f'["{STOP}"]',
    **{
        f"QUANTBOT__SIZER__HARVEST__{policy}__STOP_LOSS_PCT": "0.0005"
        for policy in ("SCALPER", "SWING", "TREND_RUNNER")
    },
}


def _crash_on_first_stop_exit(fault: str) -> dict[str, str]:
    plan = {"submit": [{"fault": fault, "when": {"exit_role": STOP}}]}
    return {
        **EMULATED_STOPS,
        "QUANTBOT_TESTING": "1",
        "QUANTBOT_SIM_FAULTS": orjson.dumps(plan).decode(),
    }


def _book(workdir: Path) -> Any:
    """The paper venue's book as persisted (snapshot plus change log); reads, never writes."""
    from quantbot.venues.sim.book import load_book

    return load_book(workdir / "state" / "sim_venue.json")


def _ledger(events: list[dict]) -> dict[str, Decimal]:
    from quantbot.oms.ledger import Ledger

    ledger = Ledger.from_events(events)
    return {s: p.qty for s, p in ledger.positions.items() if p.qty}


def _journal(workdir: Path) -> list[dict]:
    from quantbot.oms.journal import read_journal

    return read_journal(workdir / "state" / "journal.jsonl", repair=False).events


def _book_positions(workdir: Path) -> dict[str, Decimal]:
    return {s: p.qty for s, p in _book(workdir).positions.items() if p.qty}


@attrs.frozen
class Stopped:
    """The stop-out the crash interrupted: its plan and the exit that was being sent."""

    symbol: str
    plan_id: str
    cid: str  # the exit's client id, journaled with the trigger
    side: str  # the exit's side
    qty: Decimal  # the position the stop protects


def _crash_run(workdir: Path, fault: str) -> Stopped:
    """Trade until the first emulated stop-loss exit is submitted; the fault plan SIGKILLs
    the daemon there. Return what the journal says was being sent."""
    crashed = run(workdir, *PAPER, env=_crash_on_first_stop_exit(fault), timeout=60)
    assert crashed.returncode == -signal.SIGKILL, (crashed.returncode, crashed.stderr)

    events = journal_events(workdir)
    last = events[-1]
    assert last["type"] == "INTENT" and last["exit_role"] == STOP, (
        "the crashed submit's INTENT (a stop-loss exit) is the journal's last line",
        last,
    )
    cid = last["client_order_id"]
    (trigger,) = [
        e
        for e in events
        if e["type"] == "EXIT" and e["action"] == "TRIGGERED" and e.get("fired_cid") == cid
    ]
    assert trigger["fired"] == STOP and trigger["attempt"] == 1
    assert trigger["symbol"] == last["symbol"]
    assert trigger["seq"] < last["seq"], "the trigger is journaled before the exit's INTENT"
    assert not [e for e in events if e["type"] in OUTCOMES and e["client_order_id"] == cid]
    assert last["order_type"] == "MARKET" and last["reducing"] is True
    plan_id = last["decision_id"].removeprefix("exit:")
    (armed, *_) = [
        e
        for e in events
        if e["type"] == "EXIT" and e["action"] == "ARMED" and e.get("plan_id") == plan_id
    ]
    assert armed["modes"] == {STOP: "emulated"}, "the stop was the daemon's, not the venue's"
    held = _ledger(events).get(last["symbol"])
    assert held is not None and held == _book_positions(workdir).get(last["symbol"]), (
        "the position the stop protects is still open, in the ledger and at the venue"
    )
    assert 0 < Decimal(last["qty"]) <= abs(held), "the exit never exceeds the position"
    return Stopped(last["symbol"], plan_id, cid, last["side"], abs(held))


def _restart(workdir: Path, faults: dict[str, str] | None = None) -> dict:
    """Run again (without faults unless given) for a short while; return its manifest."""
    folder = workdir / "runtime" / "manifests"
    before = set(folder.glob("*.json"))
    env = {**EMULATED_STOPS, **(faults or {})}
    result = run(workdir, *PAPER, "--duration", "3s", env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    (new,) = set(folder.glob("*.json")) - before
    return orjson.loads(new.read_bytes())


def _exits_of(events: list[dict], stopped: Stopped) -> list[dict]:
    """Every exit INTENT the daemon journaled for the stopped position's plan."""
    return [
        e
        for e in events
        if e["type"] == "INTENT" and e.get("decision_id") == f"exit:{stopped.plan_id}"
    ]


def _assert_stopped_out_once(workdir: Path, stopped: Stopped) -> str:
    """Exactly one exit order for the plan reached the venue, it filled the whole position,
    the plan ended flat with the stop lock, and ledger and venue agree. Returns its id."""
    events = _journal(workdir)
    book = _book(workdir)
    exits = _exits_of(events, stopped)
    assert {e["exit_role"] for e in exits} == {STOP}
    sent = [e["client_order_id"] for e in exits if e["client_order_id"] in book.orders]
    assert len(sent) == 1, f"exit orders at the venue for {stopped.plan_id}: {sent}"
    (cid,) = sent
    order = book.orders[cid]
    assert (order.symbol, order.side.value) == (stopped.symbol, stopped.side)
    assert order.status.value == "FILLED" and order.filled_qty <= stopped.qty
    acks = [e for e in events if e["type"] == "ACK" and e["client_order_id"] == cid]
    assert len(acks) <= 1, "one outcome per submit"
    (done,) = [
        e
        for e in events
        if e["type"] == "EXIT" and e["action"] == "DONE" and e.get("plan_id") == stopped.plan_id
    ]
    assert done["ended"] == "flat", done
    assert done["stopped_by"] == STOP and "lock_until_ns" in done, "the stop lock follows"
    upto = [e for e in events if e["seq"] <= done["seq"]]
    assert stopped.symbol not in _ledger(upto), "the ledger is flat when the plan ends"
    # The venue, at the last fill the journal booked before the plan ended: flat too.
    booked = {e["fill_id"] for e in upto if e["type"] == "FILL"}
    last_seq = max(f.seq for f in book.fills if f.fill_id in booked)
    at_venue = sum(
        (f.qty if f.side.value == "BUY" else -f.qty)
        for f in book.fills
        if f.symbol == stopped.symbol and f.seq <= last_seq
    )
    assert at_venue == 0, f"the venue still held {at_venue} {stopped.symbol} at the plan's end"
    # Nothing lost or doubled anywhere else: every venue order was intended once.
    intents = [e["client_order_id"] for e in events if e["type"] == "INTENT"]
    assert len(intents) == len(set(intents)), "a client order id was journaled twice"
    assert set(book.orders) <= set(intents), "the venue holds an order the journal never had"
    assert _ledger(events) == _book_positions(workdir)
    return cid


def test_killed_between_the_stop_trigger_and_its_exit_sends_the_exit_once(
    workdir: Path,
) -> None:
    stopped = _crash_run(workdir, "crash_before")
    book = _book(workdir)
    assert stopped.cid not in book.orders and stopped.cid not in book.seen_client_ids, (
        "the venue saw the exit the crash should have stopped"
    )

    manifest = _restart(workdir)

    (found,) = [
        f for f in manifest["startup"]["reconcile"] if f.get("client_order_id") == stopped.cid
    ]
    assert found["code"] == "RECONCILE_NOT_FOUND"
    mine = [e["type"] for e in _journal(workdir) if e.get("client_order_id") == stopped.cid]
    # Unknown after the restart until the venue proves it never had it; never sent.
    assert mine == ["INTENT", "UNKNOWN", "CANCEL_REQUESTED", "NOT_SENT"]
    events = _journal(workdir)
    retries = [
        e
        for e in events
        if e["type"] == "EXIT" and e["action"] == "TRIGGERED" and e["symbol"] == stopped.symbol
        if e["seq"] > min(x["seq"] for x in events if x.get("client_order_id") == stopped.cid)
    ]
    assert retries and retries[0]["attempt"] == 2 and retries[0]["fired"] == STOP
    sent = _assert_stopped_out_once(workdir, stopped)
    assert sent == retries[0]["fired_cid"], "the exit went out under the second attempt's id"
    book = _book(workdir)
    assert stopped.cid not in book.orders and stopped.cid not in book.seen_client_ids


def test_killed_after_the_venue_took_the_stop_exit_adopts_it_and_sends_nothing_more(
    workdir: Path,
) -> None:
    stopped = _crash_run(workdir, "crash_after_accept")
    held = _book(workdir).orders.get(stopped.cid)
    assert held is not None and held.status.value in {"ACCEPTED", "FILLED"}, "the venue took it"

    manifest = _restart(workdir)

    adopted = [
        f for f in manifest["startup"]["reconcile"] if f.get("client_order_id") == stopped.cid
    ]
    assert [f["code"] for f in adopted] == ["RECONCILE_ADOPTED"]
    events = _journal(workdir)
    mine = [e["type"] for e in events if e.get("client_order_id") == stopped.cid]
    assert mine.count("INTENT") == 1 and mine.count("ACK") == 1, mine
    assert [e for e in _exits_of(events, stopped)] == [
        e for e in events if e["type"] == "INTENT" and e["client_order_id"] == stopped.cid
    ], "no second exit INTENT for the plan"
    assert _assert_stopped_out_once(workdir, stopped) == stopped.cid


def test_an_exit_the_restarted_venue_does_not_show_yet_is_waited_for_never_sent_again(
    workdir: Path,
) -> None:
    """As above, but after the restart the venue does not show the exit (nor its fill) for
    its first reads, as real venues do for a moment: the exit stays UNKNOWN while the
    daemon trades on, and an UNKNOWN exit is waited for, never sent a second time."""
    stopped = _crash_run(workdir, "crash_after_accept")
    hidden = {"fault": "late_visibility", "times": HIDDEN_READS}
    plan = {"order_by_client_id": [hidden], "open_orders": [hidden], "fills_since": [hidden]}
    env = {"QUANTBOT_TESTING": "1", "QUANTBOT_SIM_FAULTS": orjson.dumps(plan).decode()}

    manifest = _restart(workdir, env)

    assert not [
        f for f in manifest["startup"]["reconcile"] if f.get("client_order_id") == stopped.cid
    ], "the venue did not show it at start: nothing was decided about it"
    events = _journal(workdir)
    mine = [e for e in events if e.get("client_order_id") == stopped.cid]
    assert [e["type"] for e in mine[:2]] == ["INTENT", "UNKNOWN"]
    # Then the venue shows it: its fill (or the order itself) comes to light.
    shown = next(e for e in mine if e["type"] in {"ACK", "FILL"})
    batches = {
        e["bar_ts_ns"]
        for e in events
        if e["type"] == "INTENT" and mine[1]["seq"] < e["seq"] < shown["seq"]
    }
    assert len(batches) > 1, "the daemon traded on for a while with the exit unknown"
    assert _exits_of(events, stopped) == [
        e for e in events if e["type"] == "INTENT" and e["client_order_id"] == stopped.cid
    ], "no second exit INTENT for the plan"
    assert _assert_stopped_out_once(workdir, stopped) == stopped.cid
