"""`quantbot status | kill | resume | cancel-all`: the operator's controls.

They work whether or not the daemon runs. The daemon polls state/control.json, so a kill
reaches it within a second; cancel-all goes through the daemon's owner-only control socket
when it runs (its OMS, journal and ledger do the work) and straight to the venue's book when
it does not (taking the state lock so no daemon starts meanwhile).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson

from quantbot.cli import governance_status, status_view, tripwire
from quantbot.cli.help import documented
from quantbot.clock import LiveClock
from quantbot.config.schema import Config
from quantbot.fsutil import ensure_private_dir
from quantbot.governance import allocation, quarantine_view
from quantbot.oms.journal import read_journal
from quantbot.oms.ledger import Ledger
from quantbot.ops.control_socket import send_command
from quantbot.ops.lock import StateLock
from quantbot.risk.control import ControlStore

EXIT_OK, EXIT_LEFT_OPEN, EXIT_USAGE = 0, 1, 2


def add_parsers(sub: Any, with_config: Any) -> None:
    status = with_config(
        sub.add_parser(
            "status",
            **documented(
                "state and why, kill switch, positions with PnL, open orders and exit legs, "
                "breakers, last bars, today's risk (the daemon running or not)",
                "quantbot status",
                "quantbot status --json",
                "quantbot status --config examples/alpaca-paper.toml",
            ),
        )
    )
    status.add_argument(
        "--json",
        action="store_true",
        help="print the whole status as one JSON document instead of the table (default: table)",
    )
    kill = with_config(
        sub.add_parser(
            "kill",
            **documented(
                "engage the kill switch (survives restarts until `quantbot resume`)",
                "quantbot kill --reason 'fills look wrong'",
                "quantbot kill --reason 'venue outage' --cancel-all",
            ),
        )
    )
    kill.add_argument("--reason", required=True, help="why; shown in status and records")
    kill.add_argument(
        "--cancel-all",
        action="store_true",
        dest="cancel_all",
        help="cancel every working order too (default: as control.cancel_all_on_kill says, "
        "true in the shipped config.toml)",
    )
    resume = with_config(
        sub.add_parser(
            "resume",
            **documented(
                "clear the kill switch, any halt, drawdown trips and triggered tripwires",
                "quantbot resume",
                "quantbot resume --symbol BTC/USDT",
                "quantbot resume --sleeve trend",
            ),
        )
    ).add_mutually_exclusive_group()
    resume.add_argument(
        "--symbol",
        default=None,
        help="re-enable one symbol a throttle disabled, nothing else changes (default: clear "
        "the kill switch and the halt)",
    )
    resume.add_argument(
        "--sleeve",
        default=None,
        help="clear one sleeve's drawdown breaker trip and release its quarantine early, "
        "nothing else changes (default: clear every trip, the kill switch and the halt)",
    )
    cancel = with_config(
        sub.add_parser(
            "cancel-all",
            **documented(
                "cancel every working order; exit 0 only if nothing is left open",
                "quantbot cancel-all",
                "quantbot cancel-all --symbol BTC/USDT",
                "quantbot cancel-all --venue alpaca --config examples/alpaca-paper.toml",
            ),
        )
    )
    cancel.add_argument("--venue", default=None, help="only this venue (default: all)")
    cancel.add_argument("--symbol", default=None, help="only this symbol (default: all)")


def dispatch(args: argparse.Namespace, config: Config) -> int:
    state_dir = Path(config.run.state_dir)
    store = ControlStore(state_dir / "control.json", LiveClock())
    if args.command == "kill":
        ensure_private_dir(state_dir)
        state = store.kill(args.reason, cancel_all=args.cancel_all)
        print(f"kill switch engaged: {state.kill_reason} (clears only with `quantbot resume`)")
        wanted = args.cancel_all or config.control.cancel_all_on_kill
        if wanted and not _daemon_running(state_dir):
            return _cancel_all(config, state_dir, venue=None, symbol=None)
        return EXIT_OK  # a running daemon sees it within control.poll_interval_s
    if args.command == "resume":
        if args.sleeve is not None:
            return _resume_sleeve(config, store, args.sleeve)
        return _resume(store, args.symbol)
    if args.command == "cancel-all":
        return _cancel_all(config, state_dir, venue=args.venue, symbol=args.symbol)
    return _status(config, state_dir, store, as_json=args.json)


def _daemon_running(state_dir: Path) -> bool:
    return StateLock(state_dir).is_held_elsewhere()


def _resume(store: ControlStore, symbol: str | None) -> int:
    before = store.load()
    if symbol is not None:
        if symbol not in before.disabled_symbols:
            print(
                f"{symbol} is not disabled (disabled: {list(before.disabled_symbols)})",
                file=sys.stderr,
            )
            return EXIT_USAGE
        store.enable_symbol(symbol)
        print(f"{symbol} re-enabled")
        return EXIT_OK
    store.resume()
    print(f"resumed (was: {before.describe()})")
    for entry in tripwire.reset(store.path.parent, reason="quantbot resume", clock=LiveClock()):
        print(f"tripwire {entry['policy']} cleared for sleeve {entry['sleeve']}")
    return EXIT_OK


def _resume_sleeve(config: Config, store: ControlStore, sleeve: str) -> int:
    """Stamp one sleeve resumed in state/control.json: the daemon (now, or at its next
    start) clears that sleeve's drawdown trip and restarts its high-water mark, and releases
    its quarantine if it has one."""
    if sleeve not in config.signals:
        print(f"--sleeve {sleeve!r}: no such sleeve (sleeves: {', '.join(config.signals)})",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    state_dir = store.path.parent
    ensure_private_dir(state_dir)
    store.resume_sleeve(sleeve)
    trip = status_view.drawdown_state(state_dir, config).get("trips", {}).get(sleeve)
    was = f"was tripped: {trip['code']} since {trip.get('since')}" if trip else "was not tripped"
    print(f"sleeve {sleeve} resumed ({was})")
    quarantined = [
        q for q in quarantine_view.active(state_dir, store.load()) if q.get("sleeve") == sleeve
    ]
    if quarantined:
        return quarantine_view.resume_sleeve(store, state_dir, sleeve)
    return EXIT_OK


def _cancel_all(config: Config, state_dir: Path, *, venue: str | None, symbol: str | None) -> int:
    if venue is not None and venue != config.venue.name:
        print(
            f"--venue {venue!r}: this config trades only on {config.venue.name!r}", file=sys.stderr
        )
        return EXIT_USAGE
    if symbol is not None and symbol not in config.market.symbols:
        print(
            f"--symbol {symbol!r}: not traded by this config (market.symbols: "
            f"{', '.join(config.market.symbols)})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if _daemon_running(state_dir):
        try:
            report = send_command(
                state_dir / config.control.socket_name, {"cmd": "cancel_all", "symbol": symbol}
            )
        except OSError as e:
            print(
                f"cancel-all: a daemon holds {state_dir} but is not answering on its control "
                f"socket ({type(e).__name__}); it is starting or stopping. Run this again "
                "in a moment; nothing was cancelled.",
                file=sys.stderr,
            )
            return EXIT_LEFT_OPEN
        report["via"] = "daemon"
    else:
        from quantbot.oms.cancel_all_offline import cancel_all_offline  # noqa: PLC0415

        report = asyncio.run(cancel_all_offline(config, state_dir, symbol=symbol))
        report["via"] = "venue"
    sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    _explain(report)
    left = report.get("still_open") or []
    ok = report.get("ok", False) and not left
    return EXIT_OK if ok else EXIT_LEFT_OPEN


def _explain(report: dict[str, Any]) -> None:
    """On stderr, for a person: each order left open, the halt that followed, and journal
    writes that failed (the cancels went out regardless)."""
    for problem in report.get("journal_errors") or []:
        print(f"cancel-all: {problem}", file=sys.stderr)
    left = report.get("still_open") or []
    if report.get("ok", False) and not left:
        return
    for row in left:
        print(
            f"cancel-all: still open: {row['client_order_id']} {row['symbol']} {row['side']} "
            f"{row['qty']} (filled {row['filled']}, {row['status']})",
            file=sys.stderr,
        )
    for error in report.get("errors") or []:
        print(f"cancel-all: {error}", file=sys.stderr)
    halt = report.get("halt")
    if halt and halt.get("saved") is False:
        print(
            f"cancel-all: trading should halt ({halt['code']}) but the halt could not be "
            f"saved: {halt['error']}; do not start the daemon until this is fixed",
            file=sys.stderr,
        )
    elif halt:
        print(
            f"cancel-all: trading halted ({halt['code']}) until `quantbot resume`",
            file=sys.stderr,
        )
    print(f"cancel-all: {len(left)} order(s) still open; run it again", file=sys.stderr)


def _status(config: Config, state_dir: Path, store: ControlStore, *, as_json: bool) -> int:
    control = store.load()
    running = _daemon_running(state_dir)
    snapshot: dict[str, Any] = {}
    if running:
        try:
            snapshot = send_command(
                state_dir / config.control.socket_name, {"cmd": "status"}, timeout_s=5
            )["status"]
        except (OSError, KeyError):
            snapshot = {}
    snapshot_path = state_dir / "status.json"
    if not snapshot and snapshot_path.exists():
        snapshot = orjson.loads(snapshot_path.read_bytes())
    journal = state_dir / "journal.jsonl"
    ledger = (
        Ledger.from_journal(read_journal(journal, repair=False), journal)
        if journal.exists()
        else Ledger()
    )
    out = status_view.build(
        running=running,
        control=control,
        ledger=ledger,
        snapshot=snapshot,
        external_mode=config.reconcile.external_inventory,
        drawdown=status_view.drawdown_state(state_dir, config),
        quarantine=quarantine_view.active(state_dir, control),
        allocation=allocation.current(state_dir),
        governance=governance_status.state(state_dir),
    )
    if as_json:
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(status_view.render(out))
    return EXIT_OK
