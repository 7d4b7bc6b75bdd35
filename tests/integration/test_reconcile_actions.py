"""Start-up reconciliation against the paper venue's book: adoption, clean-up and the
configured action when journal and venue disagree on a position."""

from __future__ import annotations

from pathlib import Path

import orjson

from quantbot.clock import LiveClock
from quantbot.config.schema import load_config
from quantbot.daemon.daemon import EXIT_OK, Daemon
from quantbot.venues.factory import make_venue

SHARED_DAILY = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "daily"


def _daemon(tmp_path: Path, **extra: str) -> Daemon:
    environ = {
        "QUANTBOT__RUN__STATE_DIR": str(tmp_path / "state"),
        "QUANTBOT__RUN__RUNTIME_DIR": str(tmp_path / "runtime"),
        "QUANTBOT__MARKET__SOURCE": "csv",
        "QUANTBOT__MARKET__SYMBOLS": '["AAPL"]',
        "QUANTBOT__MARKET__CSV_PATHS": orjson.dumps([str(SHARED_DAILY / "AAPL.csv")]).decode(),
        "QUANTBOT__PRETRADE__MAX_DATA_AGE_S": str(10 * 86_400),
        **extra,
    }
    return Daemon(load_config(None, environ=environ), execution_mode="paper", clock=LiveClock())


async def _run(daemon: Daemon) -> int:
    await daemon.start()
    return await daemon.run()


def _tamper_position(tmp_path: Path) -> None:
    """Someone moved shares on the account by hand: the broker's position changed with no
    fill that quantbot could see."""
    path = tmp_path / "state" / "sim_venue.json"
    book = orjson.loads(path.read_bytes())
    assert (tmp_path / "state" / "sim_venue.log.jsonl").read_bytes() == b""  # compacted
    book["positions"] = [{**p, "qty": str(int(p["qty"]) + 7)} for p in book["positions"]]
    if not book["positions"]:
        book["positions"] = [{"symbol": "AAPL", "qty": "7", "avg_price": "10", "realized_pnl": "0"}]
    path.write_bytes(orjson.dumps(book))


def _lines(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()] if path.exists() else []


async def test_a_position_mismatch_halts_by_default_with_an_alert(tmp_path: Path) -> None:
    assert await _run(_daemon(tmp_path)) == EXIT_OK
    _tamper_position(tmp_path)
    daemon = _daemon(tmp_path)
    await daemon.start()
    control = orjson.loads((tmp_path / "state" / "control.json").read_bytes())
    assert control["halt_code"] == "RECONCILE_POSITION_MISMATCH"
    alerts = _lines(tmp_path / "runtime" / "alerts.jsonl")
    by_code = {a["alert"]: a for a in alerts}
    assert by_code["ALERT_HALT_TRADING"]["halt_code"] == "RECONCILE_POSITION_MISMATCH"
    mismatch = by_code["ALERT_RECONCILE_MISMATCH"]
    assert mismatch["action"] == "halt" and mismatch["symbol"] == "AAPL"
    manifest = orjson.loads(daemon.manifest_path.read_bytes())
    assert "RECONCILE_POSITION_MISMATCH" in {f["code"] for f in manifest["startup"]["reconcile"]}
    await daemon.close()


async def test_reduce_only_on_mismatch_when_configured(tmp_path: Path) -> None:
    assert await _run(_daemon(tmp_path)) == EXIT_OK
    _tamper_position(tmp_path)
    daemon = _daemon(tmp_path, QUANTBOT__RECONCILE__ON_MISMATCH="reduce_only")
    await daemon.start()
    control = orjson.loads((tmp_path / "state" / "control.json").read_bytes())
    assert control["halt_code"] is None
    assert control["reduce_only"] is True
    assert "RECONCILE_POSITION_MISMATCH" in control["reduce_only_reason"]
    await daemon.close()


async def test_unexpected_venue_orders_are_adopted_or_cleaned_up_at_start(
    tmp_path: Path,
) -> None:
    from decimal import Decimal

    from quantbot.domain.values import OrderIntent, Side

    assert await _run(_daemon(tmp_path)) == EXIT_OK
    # A person places an order on the same account while the daemon is down.
    daemon = _daemon(tmp_path)
    venue = make_venue(daemon.config, mode="paper", clock=daemon.clock, state_dir=daemon.state_dir)
    await venue.connect()
    human = OrderIntent(
        "human-1", "manual", "AAPL", Side.BUY, Decimal(1), arrival_price=Decimal(10)
    )
    assert (await venue.submit(human)).outcome.value == "ACCEPTED"
    await venue.close()

    daemon = _daemon(tmp_path, QUANTBOT__RECONCILE__CANCEL_UNEXPECTED_AT_START="true")
    await daemon.start()
    manifest = orjson.loads(daemon.manifest_path.read_bytes())
    found = {(f["code"], f.get("client_order_id")) for f in manifest["startup"]["reconcile"]}
    assert ("RECONCILE_ADOPTED", "human-1") in found
    assert ("STARTUP_CLEANUP", "human-1") in found
    assert await daemon.parts.venue.open_orders() == []
    assert daemon.parts.oms.ledger.orders["human-1"].status.value == "CANCELED"
    await daemon.close()


def daemon_instrument():
    from quantbot.domain.values import Instrument

    return Instrument("AAPL", "0.01", "1")
