"""`quantbot go-live status|enable|disable`: the switch that live mode requires.

``enable`` runs the checklist and enables only when every item passes; ``disable`` always
works. Both change ``state/go_live.json``, which ``run --execution-mode live`` reads at start
and a running live daemon watches (``daemon.golive_watch``): ``disable`` stops its new risk
within ``control.poll_interval_s`` (``--cancel-all`` also cancels its working orders), and
``enable`` for the config it runs lets it trade again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from quantbot.cli.help import documented
from quantbot.clock import Clock, LiveClock
from quantbot.config.schema import LoadedConfig
from quantbot.risk.golive import GO_LIVE_FILE, GoLiveStore, live_start_check, run_checklist

EXIT_OK, EXIT_REFUSED = 0, 1


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "go-live",
        **documented(
            "status, enable or disable live trading",
            "quantbot go-live status",
            "quantbot go-live enable --config live.toml",
            "quantbot go-live disable --note 'paused for the earnings week'",
            "quantbot go-live disable --cancel-all --note 'venue incident'",
        ),
    )
    parser.add_argument(
        "action",
        choices=("status", "enable", "disable"),
        help="status: show it and the checklist now; enable: run the checklist and enable "
        "if it passes; disable: refuse live runs from now on",
    )
    parser.add_argument(
        "--note", default="", help="why (disable only); kept in state/ (default: none)"
    )
    parser.add_argument(
        "--cancel-all",
        action="store_true",
        help="disable only: a running live daemon also cancels every working order "
        "(default: working orders stay)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("config.toml"),
        help="config file (default: ./config.toml)",
    )
    return parser


def dispatch(args: argparse.Namespace, loaded: LoadedConfig, clock: Clock | None = None) -> int:
    clock = clock or LiveClock()
    state_dir = Path(loaded.config.run.state_dir)
    runtime_dir = Path(loaded.config.run.runtime_dir)
    store = GoLiveStore(state_dir / GO_LIVE_FILE, clock)
    if args.action == "disable":
        state = store.disable(args.note, cancel_all=args.cancel_all)
        cancels = "and cancels every working order " if state.cancel_all else ""
        print(
            f"go-live disabled at {state.disabled_at}: `run --execution-mode live` is refused "
            "until `quantbot go-live enable`; a live daemon already running adds no new risk "
            f"{cancels}from its next control poll ({loaded.config.control.poll_interval_s}s), "
            "exits still go"
        )
        return EXIT_OK
    checklist = run_checklist(loaded, state_dir=state_dir, runtime_dir=runtime_dir)
    if args.action == "status":
        state = store.load()
        blocked = live_start_check(state_dir, clock)
        out = {
            "enabled": state.enabled,
            "enabled_at": state.enabled_at,
            "disabled_at": state.disabled_at,
            "note": state.note,
            "cancel_all": state.cancel_all,
            "live_start": "allowed" if blocked is None else blocked.to_record(),
            "checklist_now": checklist.to_record(),
            "enabled_by_checklist": state.enabled_by_checklist,
        }
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
        return EXIT_OK
    for item in checklist.items:
        print(f"{'✓' if item.ok else '✗'} {item.name}: {item.detail}")
    if not checklist.ok:
        print("go-live NOT enabled; missing:", file=sys.stderr)
        for sentence in checklist.missing():
            print(f"  - {sentence}", file=sys.stderr)
        return EXIT_REFUSED
    state = store.enable(checklist)
    print(f"go-live enabled at {state.enabled_at}: `run --execution-mode live` may start")
    return EXIT_OK
