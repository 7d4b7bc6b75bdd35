"""Issue 14, section 4: a spot account that already holds coins (a testnet account comes with
balances). The first start takes the inventory in as external, states it in the manifest and
in `quantbot status`, keeps trading (no RECONCILE_POSITION_MISMATCH halt), and the sleeves
never trade the coins they did not buy.

`quantbot run` as a subprocess, the real ccxt SDK against the loopback Binance."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import journal_events, read_jsonl, run
from tests.integration.loopback import ServerThread
from tests.reliability.binance_daemon import KEY, prepare, start_daemon, tick_until
from tests.reliability.binance_daemon import server as loopback

pytestmark = pytest.mark.e2e

HELD = Decimal(1)
# The loopback market runs two hours behind the wall clock (see binance_daemon): its quotes
# are that old too.
OLD_MARKET = {"QUANTBOT__PRETRADE__MAX_QUOTE_AGE_S": "100000"}


def test_a_spot_account_with_coins_starts_trades_and_never_sells_them(workdir: Path) -> None:
    prepare(workdir)
    server = loopback(balances={"USDT": Decimal(100_000), "BTC": HELD})
    with ServerThread(server) as srv:
        proc = start_daemon(workdir, srv, "--duration", "12s", env=OLD_MARKET)
        tick_until(
            srv,
            server,
            lambda: len(journal_events(workdir, "FILL")) >= 4,
            what="a few fills of the sleeves' own",
            proc=proc,
        )
        tick_until(srv, server, lambda: proc.poll() is not None, what="the end", proc=proc)
        _out, err = proc.communicate(timeout=30)
        btc = srv.call(lambda: server.book.balances["BTC"][0] + server.book.balances["BTC"][1])

    assert proc.returncode == 0, err[-3000:]
    [manifest] = (workdir / "runtime" / "manifests").glob("*.json")
    startup = orjson.loads(manifest.read_bytes())["startup"]
    assert startup["external_inventory"]["positions"] == {"BTC/USDT": "1.0"}
    codes = [f["code"] for f in startup["reconcile"]]
    assert "RECONCILE_EXTERNAL_INVENTORY" in codes
    assert "RECONCILE_POSITION_MISMATCH" not in codes
    control = workdir / "state" / "control.json"
    assert not control.exists() or orjson.loads(control.read_bytes())["halt_code"] is None
    records = read_jsonl(workdir / "runtime" / "decisions.jsonl")
    assert not [r for r in records if r.get("event") == "HALT"]
    # The sleeves trade only their own part: every BTC decision starts from it, and the
    # account never holds less than the coin it came with.
    btc_positions = [
        Decimal(r["position"]["qty"])
        for r in records
        if r.get("symbol") == "BTC/USDT" and r.get("position")
    ]
    assert btc_positions and min(btc_positions) >= 0
    assert btc >= HELD

    status = run(workdir, "status", "--json", env={"QUANTBOT_CCXT_API_KEY": KEY})
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert shown["external_inventory"]["positions"] == {"BTC/USDT": "1.0"}
    held = shown["positions"]["BTC/USDT"]
    assert Decimal(held["qty"]) - Decimal(held["own_qty"]) == HELD
