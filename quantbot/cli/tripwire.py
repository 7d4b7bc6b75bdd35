"""`quantbot tripwire evaluate|status|reset`: the regression tripwire from the command line
(``governance.tripwire_state``; README "Regression tripwire").

``evaluate`` judges the enabled policies against ``state/kpi_events.jsonl`` now, as the daemon
does at each trading-day roll: a new trigger is an alert (``runtime/alerts.jsonl``), a
KILL_SWITCH policy engages the kill switch (a running daemon acts on it within
``control.poll_interval_s``), and a running daemon writes the ``TRIPWIRE`` record line when it
sees the state change. ``reset`` clears triggers (all, or one policy's) with a reason that is
kept; ``quantbot resume`` clears them all the same way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from quantbot.analytics.kpi import last_seq, read_events
from quantbot.cli.help import documented
from quantbot.clock import Clock, LiveClock, iso_utc
from quantbot.config.schema import Config
from quantbot.domain.reasons import ReasonCode
from quantbot.governance import tripwire_state as st
from quantbot.governance.tripwire import entry_reason
from quantbot.ops.alerts import AlertSink, webhook_from_config
from quantbot.risk.control import ControlStore

EXIT_OK, EXIT_REFUSED = 0, 1


def add_parser(
    sub: argparse._SubParsersAction,
    with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
) -> None:
    parser = sub.add_parser(
        "tripwire",
        **documented(
            "judge, show or clear the regression tripwire's policies",
            "quantbot tripwire status",
            "quantbot tripwire evaluate",
            'quantbot tripwire reset --reason "expectancy back after the data fix"',
        ),
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    evaluate = with_config(
        actions.add_parser(
            "evaluate",
            **documented(
                "judge every enabled policy against the KPI events now (as at a day roll)",
                "quantbot tripwire evaluate",
                "quantbot tripwire evaluate --config paper.toml",
            ),
        )
    )
    status = with_config(
        actions.add_parser(
            "status",
            **documented(
                "each policy and sleeve: triggered, baseline, current, drop, last checked",
                "quantbot tripwire status",
                "quantbot tripwire status --json",
            ),
        )
    )
    status.add_argument("--json", action="store_true", help="print the state as JSON")
    del evaluate
    reset = with_config(
        actions.add_parser(
            "reset",
            **documented(
                "clear triggered tripwires (all, or one policy's); the reason is kept",
                'quantbot tripwire reset --reason "reviewed: data outage"',
                'quantbot tripwire reset --policy expectancy_drop --reason "new model"',
            ),
        )
    )
    reset.add_argument("--policy", default=None, help="only this policy's triggers")
    reset.add_argument("--reason", required=True, help="why (kept in state/tripwire.json)")


def dispatch(args: argparse.Namespace, config: Config, clock: Clock | None = None) -> int:
    clock = clock or LiveClock()
    state_dir = Path(config.run.state_dir)
    if args.action == "status":
        return _status(state_dir, as_json=args.json)
    if args.action == "reset":
        names = {p.name for p in config.tripwire.policies}
        if args.policy is not None and args.policy not in names:
            print(
                f"quantbot tripwire reset: no policy named {args.policy!r} in [tripwire] "
                f"(policies: {sorted(names)})",
                file=sys.stderr,
            )
            return EXIT_REFUSED
        cleared = reset(state_dir, reason=args.reason, clock=clock, policy=args.policy)
        for entry in cleared:
            print(f"cleared {entry['policy']} for sleeve {entry['sleeve']}: {args.reason}")
        if not cleared:
            print("nothing was triggered")
        return EXIT_OK
    return _evaluate(config, state_dir, clock)


def reset(
    state_dir: Path, *, reason: str, clock: Clock, policy: str | None = None
) -> list[dict[str, Any]]:
    """Clear triggered tripwires (``quantbot tripwire reset`` and ``quantbot resume``)."""
    if not (state_dir / st.FILE).exists():
        return []
    with st.locked(state_dir):
        entries = st.load(state_dir)
        cleared = st.clear(
            entries, reason=reason, at=iso_utc(clock.now_ns()), last_seq=last_seq(state_dir),
            policy=policy,
        )  # fmt: skip
        if cleared:
            st.save(state_dir, entries)
    return cleared


def _evaluate(config: Config, state_dir: Path, clock: Clock) -> int:
    policies = config.tripwire.active()
    if not policies:
        print(
            "no enabled tripwire policy ([tripwire] enabled and a policy's enabled): nothing judged"
        )
        return EXIT_OK
    keep = max(p.window_events + p.baseline_events for p in policies)
    series = st.series_of(read_events(state_dir), keep)
    with st.locked(state_dir):
        entries = st.load(state_dir)
        fired = st.evaluate(policies, series, entries, iso_utc(clock.now_ns()))
        st.save(state_dir, entries)
    if fired:
        _act(config, state_dir, clock, fired)
    for key in sorted(entries):
        print(_line(entries[key]))
    return EXIT_OK


def _act(config: Config, state_dir: Path, clock: Clock, fired: list[dict[str, Any]]) -> None:
    """Each new trigger: an alert; a KILL_SWITCH policy's engages the kill switch."""
    runtime_dir = Path(config.run.runtime_dir)
    alerts = AlertSink(
        path=runtime_dir / "alerts.jsonl", clock=clock, config=config.alerts,
        webhook=webhook_from_config(config.alerts),
    )  # fmt: skip
    try:
        for entry in fired:
            why = entry_reason(entry, by="command")
            alerts.emit(why.code, **why.context)
            if why.code is ReasonCode.TRIPWIRE_KILL_SWITCH:
                ControlStore(state_dir / "control.json", clock).kill(st.describe(entry))
                print(f"kill switch engaged: {st.describe(entry)}")
    finally:
        alerts.close()


def _status(state_dir: Path, *, as_json: bool) -> int:
    summary = st.summary(state_dir)
    if as_json:
        sys.stdout.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n")
        return EXIT_REFUSED if "error" in summary else EXIT_OK
    if "error" in summary:
        print(summary["error"], file=sys.stderr)
        return EXIT_REFUSED
    if not summary["entries"]:
        print(f"no tripwire state yet ({state_dir / st.FILE})")
        return EXIT_OK
    for entry in summary["entries"]:
        print(_line(entry))
    return EXIT_OK


def _line(e: dict[str, Any]) -> str:
    state = f"TRIGGERED {e['action']} at {e['triggered_at']}" if e["triggered"] else "ok"
    cleared = e.get("cleared")
    tail = f"; last cleared {cleared['at']}: {cleared['reason']}" if cleared else ""
    return (
        f"{e['policy']:<20} {e['sleeve']:<14} {e['metric']:<28} {state:<40} "
        f"baseline={e['baseline']} current={e['current']} drop={e['drop']} "
        f"events={e['events']} checked={e['last_checked']}{tail}"
    )
