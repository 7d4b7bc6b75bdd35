"""`quantbot charter status|promote|demote`: the confidence charter's scorecards, and a
person's promotion or demotion of a domain (README "Confidence charter").

``status`` reads ``state/charter.json`` (the daemon's scorecards) and judges each domain by
this config's policies. ``promote`` and ``demote`` append one line (who, when, note) to the
owner-only ``state/charter_log.jsonl``; a running daemon reads it within a second (at its
next gate), a stopped one at its next start, and says so in a ``CHARTER_PROMOTED`` /
``CHARTER_DEMOTED`` record line. A promotion is the person's consent only: the domain is used
while its scorecard also meets the policy.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from quantbot.cli.help import documented
from quantbot.clock import Clock, LiveClock, iso_utc
from quantbot.config.charter import INTENT, is_domain
from quantbot.config.schema import Config
from quantbot.fsutil import ensure_private_dir, read_private
from quantbot.governance import charter_rules as rules
from quantbot.governance.charter import describe

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def add_parser(
    sub: argparse._SubParsersAction,
    with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
) -> None:
    parser = sub.add_parser(
        "charter",
        **documented(
            "the confidence charter: scorecards, and promoting or demoting a model's domain",
            "quantbot charter status",
            "quantbot charter promote sizer --note 'scorecard reviewed'",
        ),
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = with_config(
        actions.add_parser(
            "status",
            **documented(
                "each domain's scorecard and what it misses for production use",
                "quantbot charter status",
                "quantbot charter status --json",
            ),
        )
    )
    status.add_argument(
        "--json", action="store_true", help="print it as one JSON document (default: a table)"
    )
    for action, text, example in (
        ("promote", "let a domain's recommendations be used while its scorecard meets the "
         "policy", "quantbot charter promote intent:gpt-rebal --note 'reviewed 3 months'"),
        ("demote", "stop using a domain's recommendations (they are only scored again)",
         "quantbot charter demote sizer --note 'drifted after the vol regime changed'"),
    ):  # fmt: skip
        act = with_config(
            actions.add_parser(
                action,
                **documented(
                    text,
                    example,
                    f"quantbot charter {action} sizer --note 'see ticket 42' --config paper.toml",
                ),
            )
        )
        act.add_argument("domain", help="sizer, or intent:<source> (a TradeIntent's source)")
        act.add_argument("--note", required=True, help="why; kept in the log with who and when")


def dispatch(args: argparse.Namespace, config: Config, clock: Clock | None = None) -> int:
    state_dir = Path(config.run.state_dir)
    if args.action == "status":
        return _status(config, state_dir, as_json=args.json)
    return _act(config, state_dir, args, clock or LiveClock())


def _act(config: Config, state_dir: Path, args: argparse.Namespace, clock: Clock) -> int:
    action, domain, note = args.action, args.domain, args.note
    if domain == INTENT or not is_domain(domain):
        print(
            f"quantbot charter {action}: {domain!r} is not a domain (use sizer, or "
            "intent:<source> with the source a TradeIntent names)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not note.strip():
        print(f"quantbot charter {action}: --note must say why", file=sys.stderr)
        return EXIT_USAGE
    ensure_private_dir(state_dir)
    entry = {"action": action, "domain": domain, "note": note, "by": getpass.getuser(),
             "at": iso_utc(clock.now_ns())}  # fmt: skip
    rules.append_log(state_dir, entry)
    done = "promoted" if action == rules.PROMOTE else "demoted"
    print(f"charter: {domain} {done} by {entry['by']} at {entry['at']} ({note})")
    if action == rules.PROMOTE:
        view = _view(config, state_dir)["domains"].get(domain, {})
        missing = [m for m in view.get("missing", []) if m["code"] != "CHARTER_NOT_PROMOTED"]
        if missing:
            print(f"  not used yet; still missing: {'; '.join(_words(m) for m in missing)}")
        else:
            print("  production-eligible: its recommendations at or above "
                  "min_confidence_prod are used")  # fmt: skip
    if not config.charter.enabled:
        print("  note: [charter] enabled = false in this config: nothing is gated or scored")
    return EXIT_OK


def _view(config: Config, state_dir: Path) -> dict[str, Any]:
    path = state_dir / rules.FILE
    data = orjson.loads(read_private(path)) if path.exists() else {}
    data.setdefault("window_days", config.charter.window_days)
    data.setdefault("hold_bars", config.charter.hold_bars)
    policies = {d: rules.policy_record(p) for d, p in config.charter.domains.items()}
    doc = describe(data, rules.read_log(state_dir), policies=policies)
    doc["enabled"] = config.charter.enabled
    return doc


def _status(config: Config, state_dir: Path, *, as_json: bool) -> int:
    try:
        doc = _view(config, state_dir)
    except (ValueError, orjson.JSONDecodeError) as e:
        print(f"quantbot charter status: {e}", file=sys.stderr)
        return EXIT_REFUSED
    if as_json:
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
        return EXIT_OK
    state = "on" if doc["enabled"] else "OFF ([charter] enabled = false: nothing gated)"
    print(f"charter {state}; scorecards to {doc['day'] or '(no trials yet)'}, window "
          f"{doc['window_days']} days, trials held {doc['hold_bars']} bars")  # fmt: skip
    print(f"{'domain':24} {'trials':>6} {'success':>8} {'net_bps':>10}  {'promoted':8}  status")
    for domain, d in doc["domains"].items():
        status = (
            "ELIGIBLE"
            if d["eligible"]
            else "missing: " + "; ".join(_words(m) for m in d["missing"])
        )
        print(f"{domain:24} {d['trials']:>6} {d['success_rate']:>8.1%} {d['net_bps']:>10.1f}  "
              f"{'yes' if d['promoted'] else 'no':8}  {status}")  # fmt: skip
    shared = doc["intent_policy"]
    if shared is not None:
        print(f"intent:<source> without a policy of its own: {_policy_words(shared)}")
    return EXIT_OK


def _policy_words(p: dict[str, Any]) -> str:
    used = "may be used" if p["prod_use_enabled"] else "never used (prod_use_enabled = false)"
    return (f"{p['min_sandbox_trials']} trials, {p['min_sandbox_success_rate']:.0%} success, "
            f"confidence >= {p['min_confidence_prod']}; {used}")  # fmt: skip


def _words(m: dict[str, Any]) -> str:
    """A missing gate, for a person."""
    code = m["code"]
    if code == "CHARTER_NO_POLICY":
        return "a [charter.domains] policy"
    if code == "CHARTER_PROD_DISABLED":
        return "prod_use_enabled = true in its policy"
    if code == "CHARTER_TRIALS_SHORT":
        need = m["min_sandbox_trials"] - m["trials"]
        return f"{need} more trials ({m['trials']} of {m['min_sandbox_trials']})"
    if code == "CHARTER_SUCCESS_LOW":
        return (f"success rate {m['success_rate']:.1%} to reach "
                f"{m['min_sandbox_success_rate']:.1%}")  # fmt: skip
    if code == "CHARTER_NOT_PROMOTED":
        return f"a person's promotion (quantbot charter promote {m['domain']} --note ...)"
    return code
