"""`quantbot status` as a person reads it: the table for a stopped daemon with a position, an
open exit leg, a halt and an open breaker (golden text), and the JSON's money to the cent."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from quantbot.cli import status_view
from quantbot.clock import SimClock
from quantbot.oms.journal import EventType, Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.risk.control import ControlState

T0 = 1_796_000_000_000_000_000  # 2026-11-30T00:53:20Z

SNAPSHOT = {
    "ts": "2026-11-30T00:55:00.000000Z",
    "run_id": "20261130T005320-abcdef",
    "execution_mode": "paper",
    "daemon": "stopped",
    "bars": 120,
    "decisions": 120,
    "orders": 3,
    "rejected_orders": 0,
    "fills": 2,
    "equity": "100012.34",
    "pnl": "-11.81",
    "run_pnl": "24.15",
    "warming_up": {"trend": 12},
    "unknown_orders": [],
    "breakers": {
        "broker_submit": {"state": "CLOSED"},
        "data_primary": {"state": "OPEN", "reopens_in_s": 30.0, "last_failure": "timeout"},
    },
    "last_bars": {"AAPL": {"ts": "2026-11-30T00:54:59.000000Z", "close": 101.5, "age_s": 1.0}},
    "daily_risk": {
        "day": "2026-11-30",
        "scopes": {
            "GLOBAL": {
                "loss": 0.0,
                "realised_pnl": 0.67,
                "exposure": 1000.5,
                "open_risk": 20.01,
                "limits": {
                    "max_daily_loss_usd": 1000.0,
                    "max_daily_exposure_usd": 30000.0,
                    "max_open_risk_usd": 1000.0,
                },
            }
        },
    },
}

GOLDEN = """\
daemon    stopped; at next start: HALTED DATA_STALE
kill      off
HALT      DATA_STALE since 2026-11-30T00:54:00Z: AAPL bars stopped
run       20261130T005320-abcdef (paper), last status 2026-11-30T00:55:00Z
activity  120 bars, 120 decisions, 3 orders, 2 fills, 0 rejected
equity    100012.34  pnl this run +24.15  account -11.81  realised (journal) -0.67
warming   sleeves still warming up: trend 12 bars
positions
  symbol  qty     avg   mark  unrealised  realised
  AAPL     10  100.05  101.5      +14.50     -0.67
orders    1 open (entries and exit legs)
  order  symbol  role       side  type  qty  price  status
  qb-2   AAPL    stop_loss  SELL  STOP   10  95.00  ACCEPTED
BREAKER   data_primary OPEN (reopens in 30.0s): timeout
last bar  AAPL 00:54:59 (1.0s old)
risk      today (2026-11-30), USD
  scope     loss / limit    exposure / limit  open risk / limit
  GLOBAL  0.00 / 1000.00  1000.50 / 30000.00    20.01 / 1000.00
"""


def _ledger(tmp_path: Path) -> Ledger:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path, SimClock(T0))
    entry = {"client_order_id": "qb-1", "symbol": "AAPL", "side": "BUY", "qty": "10"}
    journal.append(
        EventType.INTENT, durable=True, order_type="LIMIT", limit_price="100.10", **entry
    )
    journal.append(EventType.ACK, client_order_id="qb-1", venue_order_id="v1")
    # A fee that came through a float: the status shows cents, not 0.6710529999999999.
    fee = str(0.6710529999999999)
    journal.append(
        EventType.FILL, **entry, fill_id="f1", price="100.05", fee=fee, fill_ts_ns=T0, fill_seq=1
    )
    leg = {"client_order_id": "qb-2", "symbol": "AAPL", "side": "SELL", "qty": "10"}
    journal.append(
        EventType.INTENT,
        durable=True,
        order_type="STOP",
        stop_price="95.00",
        exit_role="stop_loss",
        reduce_only=True,
        **leg,
    )
    journal.append(EventType.ACK, client_order_id="qb-2", venue_order_id="v2")
    journal.close()
    return Ledger.from_journal(read_journal(path), path)


def _status(tmp_path: Path) -> dict:
    control = ControlState(
        halt_code="DATA_STALE", halt_detail="AAPL bars stopped", halted_at="2026-11-30T00:54:00Z"
    )
    return status_view.build(
        running=False,
        control=control,
        ledger=_ledger(tmp_path),
        snapshot=SNAPSHOT,
        external_mode="baseline",
    )


def test_the_table_of_a_stopped_daemon(tmp_path: Path) -> None:
    assert status_view.render(_status(tmp_path)) == GOLDEN


def test_the_json_says_stopped_once_with_money_to_the_cent(tmp_path: Path) -> None:
    shown = _status(tmp_path)
    assert shown["state"] == "stopped" and shown["trading"] == "HALTED DATA_STALE"
    assert shown["positions"]["AAPL"] == {
        "qty": "10",
        "own_qty": "10",
        "avg_price": "100.05",
        "mark": "101.5",
        "unrealised_pnl": "14.50",
        "realised_pnl": "-0.67",
    }
    assert shown["realised_pnl_total"] == "-0.67"
    assert [o["role"] for o in shown["open_orders"]] == ["stop_loss"]
    assert shown["run"]["run_pnl"] == "24.15" and shown["run"]["account_pnl"] == "-11.81"
    # The breakers once, not again inside a copy of the last snapshot.
    assert "last_snapshot" not in shown and set(shown["breakers"]) == {
        "broker_submit",
        "data_primary",
    }
    assert Decimal(shown["run"]["equity"]) == Decimal("100012.34")


def test_the_readme_shows_this_table() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    section = readme.split("\n### Status\n", 1)[1]
    shown = section.split("```\n", 2)[1]
    assert shown == GOLDEN


def test_an_active_drawdown_trip_is_one_line_of_the_table(tmp_path: Path) -> None:
    trip = {
        "code": "DRAWDOWN_BREAKER_SLEEVE", "sleeve": "trend", "hwm": 120.0, "current": -380.0,
        "drawdown_pct": 0.5, "limit_pct": 0.5, "since": "2026-11-30T00:50:00.000000Z",
    }  # fmt: skip
    shown = status_view.build(
        running=False,
        control=ControlState(),
        ledger=_ledger(tmp_path),
        snapshot=SNAPSHOT,
        external_mode="baseline",
        drawdown={"equity_hwm": 100_000.0, "trips": {"trend": trip}},
    )
    assert shown["drawdown"]["trips"] == {"trend": trip}
    table = status_view.render(shown).splitlines()
    assert "DRAWDOWN  trend tripped 2026-11-30T00:50:00.000000Z: 0.5% from 120.0 (limit 0.5%)" in (
        table
    )
    assert not [line for line in status_view.render(_status(tmp_path)).splitlines()
                if line.startswith("DRAWDOWN")]  # fmt: skip


def test_a_disabled_or_notify_daily_policy_is_marked_in_the_risk_table(tmp_path: Path) -> None:
    view = dict(SNAPSHOT["daily_risk"]["scopes"]["GLOBAL"])  # type: ignore[index]
    policy = view["limits"]
    scopes = {
        "GLOBAL": {**view, "limits": {**policy, "enabled": True, "action": "notify"}},
        "trend": {**view, "limits": {**policy, "enabled": False, "action": "block"}},
        "mean_reversion": {**view, "limits": {**policy, "enabled": True, "action": "block"}},
    }
    snapshot = {**SNAPSHOT, "daily_risk": {"day": "2026-11-30", "scopes": scopes}}
    control = ControlState()
    shown = status_view.build(
        running=False, control=control, ledger=_ledger(tmp_path), snapshot=snapshot,
        external_mode="baseline",
    )  # fmt: skip

    rows = status_view.render(shown).splitlines()

    names = [line.split("  ")[1].strip() for line in rows if "/ 30000.00" in line]
    assert names == ["GLOBAL (notify)", "trend (disabled)", "mean_reversion"]
