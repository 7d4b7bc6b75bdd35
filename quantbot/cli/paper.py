"""`quantbot paper reset [--yes]`: archive and clear the embedded paper venue's account.

Without ``--yes`` it says what it would move and exits 2, touching nothing. It refuses while
a daemon runs on the state directory (exit 1) and for a config whose venue is not the embedded
one (exit 2: a broker's paper account is reset on the broker's side). See ops/paper_reset.py.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from quantbot.cli.help import documented
from quantbot.clock import Clock, LiveClock
from quantbot.domain.errors import StartupError
from quantbot.ops.paper_reset import apply_reset, daemon_running, plan_reset

EXIT_OK, EXIT_RUNNING, EXIT_USAGE = 0, 1, 2


def add_parser(sub: Any, with_config: Any) -> None:
    paper = sub.add_parser(
        "paper",
        **documented(
            "the embedded paper venue's account",
            "quantbot paper reset",
            "quantbot paper reset --yes",
        ),
    )
    actions = paper.add_subparsers(dest="paper_command", required=True, metavar="ACTION")
    reset = with_config(
        actions.add_parser(
            "reset",
            **documented(
                "archive and clear the paper venue's book, the order journal, the daily "
                "risk ledger and the drawdown breaker's marks (to "
                "state/archive/paper-reset-<UTC time>/), so the next paper run starts with "
                "the configured cash and no position",
                "quantbot paper reset            # says what it would do, changes nothing",
                "quantbot paper reset --yes",
                "quantbot paper reset --yes --config examples/sleeves/donchian.toml",
            ),
        )
    )
    reset.add_argument(
        "--yes",
        action="store_true",
        help="do it (default: only say what would be archived, and exit 2)",
    )


def run(args: argparse.Namespace, loaded: Any, clock: Clock | None = None) -> int:
    config = loaded.config
    if config.venue.name != "sim":
        print(
            f"quantbot paper reset: {loaded.path} trades on the {config.venue.name} venue; "
            'paper reset clears the embedded paper venue (venue.name = "sim") only. '
            "Reset a broker's paper account on the broker's side",
            file=sys.stderr,
        )
        return EXIT_USAGE
    plan = plan_reset(config, clock or LiveClock())
    if daemon_running(plan.state_dir):
        print(
            f"quantbot paper reset: a quantbot daemon is running on {plan.state_dir}; "
            "stop it first (Ctrl-C, or SIGTERM), then reset",
            file=sys.stderr,
        )
        return EXIT_RUNNING
    if not plan.files:
        print(f"nothing to reset: no paper account in {plan.state_dir}")
        return EXIT_OK
    names = ", ".join(p.name for p in plan.files)
    if not args.yes:
        print(
            f"paper reset would move {names} from {plan.state_dir} to {plan.archive}/ "
            "(the venue's book, the order journal, the daily risk ledger, the drawdown "
            "breaker's marks): the next run "
            "starts with the configured cash and no position or order.\n"
            "Nothing was changed. Run `quantbot paper reset --yes` to do it.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        moved = apply_reset(plan)
    except StartupError as e:  # a daemon took the lock since the check above
        print(f"quantbot paper reset: {e}", file=sys.stderr)
        return EXIT_RUNNING
    where = moved[0].parent if moved else plan.archive
    print(f"paper account reset: {len(moved)} file(s) archived in {where}/")
    return EXIT_OK
