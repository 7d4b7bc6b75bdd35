"""Feed items into the lines a person reads: round trips across a flip and from a position
opened before the run, and the daily summary at the day roll."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quantbot.notify.digest import Digest


def _fill(seq: int, side: str, qty: str, price: str, fee: str = "0") -> dict[str, Any]:
    return {
        "type": "FILL",
        "client_order_id": f"c{seq}",
        "symbol": "SIMA",
        "side": side,
        "qty": Decimal(qty),
        "price": Decimal(price),
        "fee": Decimal(fee),
        "fill_ts_ns": seq,
    }


def _texts(digest: Digest, kind: str, payload: dict[str, Any]) -> list[str]:
    return [n.text for n in digest.take(kind, payload)]


def test_a_position_from_before_the_run_closes_with_its_pnl() -> None:
    digest = Digest()
    digest.seed([_fill(1, "BUY", "4", "10", fee="0.04")])
    assert _texts(digest, "journal", _fill(2, "SELL", "4", "12", fee="0.04")) == [
        "fill: SELL 4 SIMA @ 12, fee 0.04",
        "closed long 4 SIMA: 10 -> 12, PnL +7.92 after costs (signal)",
    ]


def test_a_flip_closes_one_trade_and_opens_the_next() -> None:
    digest = Digest()
    digest.take("journal", _fill(1, "BUY", "2", "10"))
    digest.take("journal", {"type": "INTENT", "client_order_id": "c2", "exit_role": "stop_loss"})
    texts = _texts(digest, "journal", _fill(2, "SELL", "5", "9"))
    assert texts[1] == "closed long 2 SIMA: 10 -> 9, PnL -2.00 after costs (stop_loss)"
    texts = _texts(digest, "journal", _fill(3, "BUY", "3", "8"))
    assert texts[1] == "closed short 3 SIMA: 9 -> 8, PnL +3.00 after costs (signal)"


def _status(day: str, *, orders: int, fills: int, equity: str, realised: float) -> dict:
    return {
        "orders": orders,
        "fills": fills,
        "equity": equity,
        "control": "trading",
        "daily_risk": {"day": day, "scopes": {"GLOBAL": {"realised_pnl": realised}}},
    }


def test_the_day_roll_sends_the_day_that_ended() -> None:
    digest = Digest()
    assert not digest.take(
        "status", _status("2026-12-06", orders=3, fills=3, equity="100000", realised=0.0)
    )
    assert not digest.take(
        "status", _status("2026-12-06", orders=10, fills=9, equity="100012.5", realised=11.75)
    )
    rolled = _texts(
        digest, "status", _status("2026-12-07", orders=11, fills=10, equity="100013", realised=0.0)
    )
    assert rolled == [
        "daily summary 2026-12-06: realised PnL +11.75, equity 100,012.50 (+12.50 this run), "
        "orders 7, fills 6, state trading"
    ]
    # The next day counts from the last look at the one before.
    digest.take(
        "status", _status("2026-12-07", orders=20, fills=18, equity="99990", realised=-20.0)
    )
    [summary] = _texts(
        digest, "status", _status("2026-12-08", orders=20, fills=18, equity="99990", realised=0.0)
    )
    assert summary.startswith(
        "daily summary 2026-12-07: realised PnL -20.00, equity 99,990.00 (-22.50 this run), "
        "orders 10, fills 9"
    )


def test_a_halt_quoting_a_url_with_a_key_is_told_without_it() -> None:
    halt = {
        "event": "HALT",
        "reason": {
            "code": "AUTH_HALT",
            "error": "401 for https://api.example.com/v3/order?apiKey=K3Y&signature=abc",
        },
    }
    [text] = _texts(Digest(), "record", halt)
    assert text.startswith("HALTED AUTH_HALT (error=401 for https://api.example.com/v3/order?")
    assert "K3Y" not in text and "signature=abc" not in text


def test_a_long_context_value_is_cut() -> None:
    alert = {"ts": "t", "alert": "ALERT_BREAKER_OPEN", "halts": False, "breaker": {"x": "y" * 500}}
    [text] = _texts(Digest(), "alert", alert)
    assert len(text) < 220 and text.endswith("...")


def test_the_stop_message_gives_this_runs_pnl_beside_the_accounts() -> None:
    digest = Digest()
    status = {
        "orders": 5,
        "fills": 4,
        "equity": "100019.81",
        "pnl": "-11.81",
        "run_pnl": "24.15",
        "control": "trading",
        "daily_risk": {"day": "2026-12-07"},
    }
    digest.take("status", status)
    [stop] = _texts(digest, "run", {"phase": "stopped", "run_id": "r1"})
    assert stop == (
        "quantbot stopped: run r1: orders 5, fills 4, equity 100,019.81, "
        "PnL this run +24.15 (account -11.81), state trading"
    )
