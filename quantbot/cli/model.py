"""`quantbot model train|verify`: write a verified model artifact from replayed bars, and check
one (README "Verified model artifacts").

Exit status: 0 done (verify: the artifact is intact); 1 refused (verify: a file's sha256 or
the manifest's shape is wrong, named with the file; train: the config does not allow writing
there, see ``config.models``); 2 bad input (arguments, config, data).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from quantbot.cli.help import documented
from quantbot.clock import LiveClock
from quantbot.models.artifact import ModelVerificationError, load_verified
from quantbot.models.train import refusal, train

EXIT_OK, EXIT_REFUSED = 0, 1


def add_parser(
    sub: argparse._SubParsersAction,
    with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
) -> None:
    parser = sub.add_parser(
        "model",
        **documented(
            "train a model artifact from replayed bars, or verify one",
            "quantbot model train --data ../shared/data/daily/AAPL.csv --out models/lr",
            "quantbot model verify models/lr",
        ),
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    training = with_config(
        actions.add_parser(
            "train",
            **documented(
                "train the logistic_model sleeve's model on CSV bars and write its artifact",
                "quantbot model train --data ../shared/data/daily/AAPL.csv --out models/lr",
                "quantbot model train --data a.csv b.csv --out models/lr --config paper.toml",
            ),
        )
    )
    training.add_argument(
        "--data", type=Path, nargs="+", required=True, help="CSV bar files to train on"
    )
    training.add_argument(
        "--out",
        type=Path,
        required=True,
        help="the artifact directory to write (model.json and manifest.json)",
    )
    verify = actions.add_parser(
        "verify",
        **documented(
            "check an artifact: its manifest's shape and every file's sha256",
            "quantbot model verify models/lr",
            "quantbot model verify models/lr --json",
        ),
    )
    verify.add_argument("directory", type=Path, help="the artifact directory")
    verify.add_argument("--json", action="store_true", help="print the manifest as JSON")


def dispatch(args: argparse.Namespace, load: Callable[[argparse.Namespace], Any]) -> int:
    if args.action == "verify":
        try:
            verified = load_verified(args.directory)
        except ModelVerificationError as e:
            print(f"quantbot model verify: REFUSED: {e}", file=sys.stderr)
            return EXIT_REFUSED
        if args.json:
            text = orjson.dumps(verified.manifest, option=orjson.OPT_INDENT_2).decode()
            sys.stdout.write(text + "\n")
        else:
            m = verified.manifest
            print(
                f"ok: {args.directory} {m['kind']} version {m['version']}, "
                f"{len(m['files'])} file(s), trained on {m['training_data'].get('from')} .. "
                f"{m['training_data'].get('to')}, created {m['created']}"
            )
        return EXIT_OK
    config = load(args).config
    why = refusal(config, args.out, LiveClock())
    if why is not None:
        print(f"quantbot model train: refused: {why}", file=sys.stderr)
        return EXIT_REFUSED
    manifest = train(args.data, args.out)
    print(
        f"wrote {args.out}: version {manifest['version']}, validation accuracy "
        f"{manifest['validation']['accuracy']:.3f} on {manifest['validation']['bars']} bars"
    )
    return EXIT_OK
