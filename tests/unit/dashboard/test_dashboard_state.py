"""What the dashboard shows, built from feed items shaped as the daemon publishes them."""

from __future__ import annotations

from typing import Any

from quantbot.dashboard.state import MAX_DECISIONS, MAX_EQUITY_POINTS, DashboardState


def decision(n: int, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "ts": f"2026-12-07T10:00:{n % 60:02d}.5Z",
        "run_id": "run-1",
        "decision_id": f"SIMA@{n}",
        "bar_ts": f"2026-12-07T10:00:{n % 60:02d}Z",
        "symbol": "SIMA",
        "intent": None,
        "reason": {"code": "NETTING_DEADBAND", "symbol": "SIMA"},
        "net": {"target": 0.25},
        "position": {"qty": "0", "target_qty": "4"},
    }
    record.update(fields)
    return record


def status(**fields: Any) -> dict[str, Any]:
    closed = {"state": "CLOSED", "reopens_in_s": None, "last_failure": ""}
    snapshot: dict[str, Any] = {
        "ts": "2026-12-07T10:00:01Z",
        "run_id": "run-1",
        "execution_mode": "paper",
        "bars": 10,
        "decisions": 10,
        "orders": 2,
        "fills": 2,
        "open_orders": 1,
        "positions": {"SIMA": "17"},
        "equity": "100000.00",
        "pnl": "-11.81",
        "control": "trading",
        "breakers": {"broker_submit": closed, "data_primary": dict(closed)},
        "pretrade": {"symbols": {"SIMA": {"last_close": "99.50000437261"}}},
    }
    snapshot.update(fields)
    return snapshot


def test_a_decision_row_says_the_order_sent_or_the_reason_there_was_none() -> None:
    state = DashboardState()
    [(event, held)] = state.apply("record", decision(1))
    assert event == "decision"
    assert held == {
        "id": "SIMA@1",
        "symbol": "SIMA",
        "ts": "2026-12-07T10:00:01Z",
        "target": 0.25,
        "target_qty": "4",
        "order": "",
        "outcome": "not sent",
        "reason": "NETTING_DEADBAND",
    }
    intent = {"side": "BUY", "qty": "17", "order_type": "MARKET", "client_order_id": "qb1"}
    sent = decision(2, intent=intent, reason=None, order={"outcome": "ACCEPTED", "reason": None})
    [(_, row)] = state.apply("record", sent)
    assert (row["order"], row["outcome"], row["reason"]) == (
        "BUY 17 MARKET",
        "ACCEPTED",
        "ORDER_ACCEPTED",
    )
    refused = decision(
        3, intent=intent, reason=None,
        order={"outcome": "NOT_SENT", "reason": {"code": "PRICE_COLLAR_BLOCK"}},
    )  # fmt: skip
    [(_, row)] = state.apply("record", refused)
    assert (row["outcome"], row["reason"]) == ("NOT_SENT", "PRICE_COLLAR_BLOCK")
    # an event record (a halt, an exit) is listed apart from the decisions
    [(event, row)] = state.apply(
        "record", {"ts": "t", "event": "HALT", "reason": {"code": "AUTH_HALT"}}
    )
    assert (event, row["event"], row["reason"]) == ("event", "HALT", "AUTH_HALT")
    assert [d["id"] for d in state.snapshot()["decisions"]] == ["SIMA@1", "SIMA@2", "SIMA@3"]


def test_only_the_last_decisions_are_kept() -> None:
    state = DashboardState()
    for n in range(MAX_DECISIONS + 30):
        state.apply("record", decision(n))
    ids = [d["id"] for d in state.snapshot()["decisions"]]
    assert len(ids) == MAX_DECISIONS and ids[-1] == f"SIMA@{MAX_DECISIONS + 29}"


def test_the_status_shows_state_and_why_the_kill_switch_marks_and_breakers_not_closed() -> None:
    state = DashboardState()
    tripped = {"state": "OPEN", "reopens_in_s": 42.0, "last_failure": "TimeoutError"}
    snapshot = status(
        control="KILLED (operator: fat finger)",
        breakers={**status()["breakers"], "broker_submit": tripped},
    )
    updates = dict(state.apply("status", snapshot))
    shown = updates["status"]
    assert (shown["state"], shown["why"], shown["kill_switch"]) == (
        "killed",
        "operator: fat finger",
        True,
    )
    assert (shown["run_id"], shown["mode"]) == ("run-1", "paper")
    assert shown["breakers"] == [
        {"name": "broker_submit", "state": "OPEN", "reopens_in_s": 42.0,
         "last_failure": "TimeoutError"}
    ]  # fmt: skip
    halted = dict(state.apply("status", status(control="HALTED AUTH_HALT")))["status"]
    assert (halted["state"], halted["why"], halted["kill_switch"]) == ("halted", "AUTH_HALT", False)


def test_the_equity_curve_is_this_runs_and_stays_bounded_over_its_whole_span() -> None:
    state = DashboardState()
    state.apply("status", status(ts="first", equity="100000.00", pnl="-11.81"))
    state.apply("status", status(ts="second", equity="100012.50"))
    curve = state.snapshot()["equity"]
    assert curve == {"points": [["first", 100000.0], ["second", 100012.5]], "run_pnl": 12.5}
    for n in range(3 * MAX_EQUITY_POINTS):
        state.apply("status", status(ts=f"t{n}", equity=str(100000 + n)))
    points = state.snapshot()["equity"]["points"]
    assert len(points) <= MAX_EQUITY_POINTS
    assert points[0][0] == "first" and points[-1][0] == f"t{3 * MAX_EQUITY_POINTS - 1}"


class Journal:
    """Journal events as the order side appends them (``seq`` and ``ts_ns`` included)."""

    def __init__(self, state: DashboardState) -> None:
        self.state, self.seq = state, 0

    def __call__(self, **event: Any) -> list[dict[str, Any]]:
        self.seq += 1
        updates = dict(self.state.apply("journal", {"seq": self.seq, "ts_ns": self.seq, **event}))
        return updates["orders"]["open"]


def test_open_orders_legs_and_positions_follow_the_journal() -> None:
    state = DashboardState()
    journal = Journal(state)
    entry = dict(client_order_id="qb1", symbol="SIMA", side="BUY", qty="10",
                 order_type="LIMIT", limit_price="99.1", stop_price=None)  # fmt: skip
    [row] = journal(type="INTENT", **entry)
    assert (row["id"], row["status"], row["price"], row["role"]) == ("qb1", "NEW", "99.1", "")
    [row] = journal(type="ACK", client_order_id="qb1", venue_order_id="v1")
    assert row["status"] == "ACCEPTED"
    fill = dict(client_order_id="qb1", symbol="SIMA", side="BUY", price="99.1", fee="0.10",
                venue_order_id="v1", fill_ts_ns=1)  # fmt: skip
    [row] = journal(type="FILL", fill_id="f1", qty="4", fill_seq=1, **fill)
    assert (row["filled"], row["status"]) == ("4", "PARTIALLY_FILLED")
    assert journal(type="FILL", fill_id="f2", qty="6", fill_seq=2, **fill) == []
    # the position at the last mark the status reported
    state.apply("status", status(last_bars={"SIMA": {"close": 101.123456789}}))
    assert state.positions() == [
        {"symbol": "SIMA", "qty": "10", "avg_price": "99.10", "mark": "101.1235",
         "unrealised_pnl": "20.23", "realised_pnl": "-0.20"}
    ]  # fmt: skip
    stop = dict(entry, client_order_id="qb2", side="SELL", order_type="STOP",
                limit_price=None, stop_price="98.0", exit_role="stop_loss")  # fmt: skip
    [row] = journal(type="INTENT", **stop)
    assert (row["role"], row["price"], row["type"]) == ("stop_loss", "98.0", "STOP")
    journal(type="EXIT", symbol="SIMA", action="ARMED", side="BUY", qty="10",
            entry_price="99.1", stop="98.0", take_profit="101.0", trail_pct=None,
            modes={"stop_loss": "native", "max_hold": "daemon"})  # fmt: skip
    [leg] = state.snapshot()["orders"]["legs"]
    assert (leg["symbol"], leg["stop"], leg["take_profit"]) == ("SIMA", "98.0", "101.0")
    assert journal(type="CANCELED", client_order_id="qb2") == []
    journal(type="EXIT", symbol="SIMA", action="DONE", side="BUY")
    assert state.snapshot()["orders"] == {"open": [], "legs": []}
    # an event the ledger was seeded with (the journal read at start) is not applied twice
    assert state.apply("journal", {"seq": 3, "type": "FILL", **fill}) == []


def test_a_page_started_late_shows_what_the_journal_holds() -> None:
    from quantbot.oms.ledger import Ledger

    intent = {"seq": 1, "ts_ns": 1, "type": "INTENT", "client_order_id": "qb9",
              "symbol": "SIMB", "side": "SELL", "qty": "3", "order_type": "LIMIT",
              "limit_price": "101.5", "exit_role": "take_profit"}  # fmt: skip
    state = DashboardState(Ledger.from_events([intent]))
    [row] = state.snapshot()["orders"]["open"]
    assert (row["id"], row["role"], row["price"]) == ("qb9", "take_profit", "101.5")


def test_the_runs_start_and_stop_reach_the_page() -> None:
    state = DashboardState()
    [(_, run)] = state.apply("run", {"phase": "started", "run_id": "run-1", "ts": "t0"})
    assert run == {"phase": "started", "run_id": "run-1", "started_at": "t0"}
    [(_, run)] = state.apply("run", {"phase": "stopped", "run_id": "run-1", "ts": "t1"})
    assert run["phase"] == "stopped" and run["stopped_at"] == "t1"


def test_what_the_records_say_cannot_become_markup_in_the_page() -> None:
    from quantbot.dashboard.page import render_page

    state = DashboardState()
    state.apply("record", decision(1, symbol="</script><script>alert(1)</script>"))
    page = render_page(state.snapshot(), "n0nce")
    assert "<script>alert(1)" not in page
    assert page.count("</script>") == 2  # the state's and the page's own script, closed once
    assert '<script nonce="n0nce">' in page
