"""`quantbot review [--since 7d] [--json]`: the weekly review on one page (what broke, what
was denied, what drifted, the go-live state and its checklist), from ``state/`` and
``runtime/``, the daemon running or not. Exit 0; 2 on bad input (a malformed ``--since``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import orjson

from quantbot.cli.help import documented
from quantbot.clock import Clock, LiveClock
from quantbot.config.schema import LoadedConfig
from quantbot.review.build import build_review
from quantbot.review.render import render
from quantbot.review.window import parse_span

EXIT_OK = 0
DEFAULT_SINCE = "7d"


def _since(text: str) -> str:
    try:
        parse_span(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e
    return text.strip().lower()


def add_parser(
    sub: argparse._SubParsersAction,
    with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
) -> None:
    parser = with_config(
        sub.add_parser(
            "review",
            **documented(
                "the weekly review: what broke, what was denied, what drifted, and the "
                "go-live state with its checklist",
                "quantbot review",
                "quantbot review --since 24h",
                "quantbot review --since 30d --json",
            ),
        )
    )
    parser.add_argument(
        "--since",
        type=_since,
        default=DEFAULT_SINCE,
        help="how far back from now: a duration such as 7d, 24h, 1d12h or 90m (default: 7d)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the review as one JSON document, keys sorted (default: a page of text)",
    )


def run(args: argparse.Namespace, loaded: LoadedConfig, clock: Clock | None = None) -> int:
    doc = build_review(loaded, clock or LiveClock(), args.since)
    if args.json:
        options = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
        sys.stdout.write(orjson.dumps(doc, option=options).decode() + "\n")
    else:
        sys.stdout.write(render(doc))
    return EXIT_OK
