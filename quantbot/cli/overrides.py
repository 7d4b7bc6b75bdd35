"""`quantbot overrides list|rollback VERSION`: the versions of what post-trade learning
changed (``state/learned_overrides.json``, ``governance.overrides``), and going back to one.

``rollback V`` appends a new version whose overrides are V's (nothing is deleted: the
rollback is itself a version naming the one it replaced). The daemon takes it at its next
start, or at its next trading-day roll when it is running, and says so with a
``LEARNED_OVERRIDE`` event (``LEARNING_ROLLBACK``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import orjson

from quantbot.cli.help import documented
from quantbot.clock import Clock, LiveClock, utc_date
from quantbot.config.schema import Config
from quantbot.governance.overrides import FILE, OverrideStore

EXIT_OK, EXIT_REFUSED = 0, 1


def add_parser(
    sub: argparse._SubParsersAction,
    with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
) -> None:
    parser = sub.add_parser(
        "overrides",
        **documented(
            "list or roll back the overrides post-trade learning made",
            "quantbot overrides list",
            "quantbot overrides rollback 3",
        ),
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = with_config(
        actions.add_parser(
            "list",
            **documented(
                "every version of the learned overrides, the one in force marked",
                "quantbot overrides list",
                "quantbot overrides list --json",
            ),
        )
    )
    listing.add_argument(
        "--json", action="store_true", help="print the file's versions as JSON (default: a table)"
    )
    rollback = with_config(
        actions.add_parser(
            "rollback",
            **documented(
                "make an earlier version's overrides the ones in force (as a new version)",
                "quantbot overrides rollback 3",
                "quantbot overrides rollback 1 --config paper.toml",
            ),
        )
    )
    rollback.add_argument("version", type=int, help="the version id to restore (see list)")


def dispatch(args: argparse.Namespace, config: Config, clock: Clock | None = None) -> int:
    path = Path(config.run.state_dir) / FILE
    try:
        store = OverrideStore.open(path)
    except ValueError as e:
        print(f"quantbot overrides: {e}", file=sys.stderr)
        return EXIT_REFUSED
    if args.action == "rollback":
        return _rollback(store, args.version, utc_date((clock or LiveClock()).now_ns()))
    versions = store.data["versions"]
    if args.json:
        out = {"head": store.data["head"], "versions": versions}
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
        return EXIT_OK
    if not versions:
        print(f"no learned overrides yet ({path})")
        return EXIT_OK
    print(f"{'':2}{'version':>7}  {'day':10}  {'kind':8}  {'previous':>8}  overrides")
    for v in versions:
        mark = "*" if v["id"] == store.data["head"] else ""
        parts = [
            f"{symbol}.{param}={o['value']}"
            for symbol, params in sorted(v["overrides"].items())
            for param, o in sorted(params.items())
        ]
        previous = "-" if v["previous"] is None else str(v["previous"])
        print(
            f"{mark:2}{v['id']:>7}  {v['day']:10}  {v['kind']:8}  {previous:>8}  "
            f"{' '.join(parts) or '(none: base values)'}"
        )
    print("* in force")
    return EXIT_OK


def _rollback(store: OverrideStore, vid: int, today: str) -> int:
    if store.version(vid) is None:
        known = [v["id"] for v in store.data["versions"]]
        print(
            f"quantbot overrides rollback: no version {vid} in {store.path} "
            f"(versions: {known or 'none'})",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    previous = store.data["head"]
    version = store.rollback(vid, today)
    store.save()
    print(
        f"learned overrides: version {version['id']} restores version {vid} (was {previous}); "
        "the daemon takes it at its next start or trading-day roll"
    )
    return EXIT_OK
