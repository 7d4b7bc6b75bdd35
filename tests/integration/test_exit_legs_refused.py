"""An exit type a venue cannot take, with emulation off, stops `quantbot run` before anything
is sent (issue 16: "an unsupported type refuses to start with the message"): the daemon as a
subprocess against each loopback venue, through its real SDK.

- Binance spot takes no stop-market order (only STOP_LOSS_LIMIT): stop_type = "STOP";
- Binance USD-M futures takes no stop-limit here (STOP_MARKET only): stop_type = "STOP_LIMIT";
- Alpaca has no reduce-only flag: a trailing stop resting beside the stop/take-profit OCO
  could exit the position twice, so it may only be emulated, and emulation is off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.daemon import journal_events, run
from tests.integration.exit_rig import ALPACA, COMMON, FUTURES, SPOT, VenueKind
from tests.integration.loopback import ServerThread

NO_EMULATION = {"QUANTBOT__ORDERS__ALLOW_EMULATION": "false"}
CASES = [
    (SPOT, {"QUANTBOT__ORDERS__STOP_TYPE": "STOP"}, "the binance venue cannot take STOP orders"),
    (
        FUTURES,
        {"QUANTBOT__ORDERS__STOP_TYPE": "STOP_LIMIT"},
        "the binance venue cannot take STOP_LIMIT orders",
    ),
    (
        ALPACA,
        {"QUANTBOT__ORDERS__EXIT_LEGS": '["stop_loss", "take_profit", "trailing_stop"]'},
        "the alpaca venue cannot take TRAILING_STOP orders as a further resting leg without "
        "reduce-only",
    ),
]
IDS = [kind.name for kind, _, _ in CASES]


def _refused_run(workdir: Path, kind: VenueKind, env: dict[str, str]) -> tuple[Any, Any]:
    """`quantbot run --execution-mode paper` against ``kind``'s loopback: (result, server)."""
    server = kind.server()
    with ServerThread(server) as srv:
        if kind is ALPACA:
            srv.call(lambda: server.set_clock(True))
        full = {**COMMON, **kind.env, **kind.url_env(srv.url), **kind.credentials}
        full.update({**NO_EMULATION, **env})
        result = run(workdir, "run", "--execution-mode", "paper", "--duration", "5s", env=full)
    return result, server


def _orders_at_venue(kind: VenueKind, server: Any) -> int:
    book = server.book
    if kind is ALPACA:
        return len(book.orders)
    return len(book.orders) + len(getattr(book, "algo_orders", {})) + len(server.client_ids_sent)


@pytest.mark.parametrize(("kind", "env", "message"), CASES, ids=IDS)
def test_an_exit_type_the_venue_cannot_take_refuses_to_start_and_sends_nothing(
    workdir: Path, kind: VenueKind, env: dict[str, str], message: str
) -> None:
    result, server = _refused_run(workdir, kind, env)
    assert result.returncode == 1, result.stderr[-2000:]
    first = result.stderr.splitlines()[0]
    assert first.startswith("quantbot: cannot start: ORDER_TYPE_UNSUPPORTED: "), first
    assert message in first, first
    assert "orders.allow_emulation = false" in first
    assert journal_events(workdir, "INTENT") == []
    assert _orders_at_venue(kind, server) == 0
    assert not list((workdir / "runtime" / "manifests").glob("*.json"))  # it never started


def test_the_alpaca_refusal_names_the_order_type(workdir: Path) -> None:
    _kind, env, _message = CASES[2]
    result, _server = _refused_run(workdir, ALPACA, env)
    assert result.returncode == 1
    assert "the alpaca venue cannot take TRAILING_STOP orders" in result.stderr


@pytest.mark.parametrize(("kind", "env", "message"), CASES[:2], ids=IDS[:2])
def test_the_refusal_is_all_a_ccxt_run_prints(
    workdir: Path, kind: VenueKind, env: dict[str, str], message: str
) -> None:
    result, _server = _refused_run(workdir, kind, env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.splitlines()[0]], result.stderr
