"""The `quantbot` command. Logging is configured here, once, for the whole process.

Exit status: 0 success; 2 bad input (arguments or config); 1 could not start safely
(lock held, corrupt journal, missing dependency); 3 trading halted during the run.
"""

from __future__ import annotations

import argparse
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from loguru import logger

import quantbot
from quantbot.cli import (
    charter,
    control,
    data,
    golive,
    leakage,
    model,
    overrides,
    paper,
    replay,
    report,
    review,
    tripwire,
    walk_forward,
)
from quantbot.cli.event_loop import run_on_event_loop
from quantbot.cli.help import RAW, documented, examples
from quantbot.config.schema import EXECUTION_MODES, PROFILES, load_config, redacted
from quantbot.domain.errors import ConfigError, DataError, StartupError
from quantbot.fsutil import ensure_private_dir, private_opener
from quantbot.records.redact import redact_text

EXIT_OK, EXIT_START, EXIT_USAGE = 0, 1, 2
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    """``30s``, ``10m``, ``1h30m`` or plain seconds → seconds (> 0)."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise argparse.ArgumentTypeError(f"--duration {text!r}: use e.g. 30s, 10m, 1h30m")
    h, m, s = (float(g) if g else 0.0 for g in match.groups())
    seconds = h * 3600 + m * 60 + s
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"--duration {text!r}: must be more than zero")
    return seconds


DESCRIPTION = """\
quantbot runs systematic trading strategies around the clock on US equities (Alpaca) and
crypto (any ccxt exchange): in shadow mode (decide, send nothing), paper or live, recording
why each order was or was not sent. Start with a paper run on the embedded simulated venue.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quantbot",
        description=DESCRIPTION,
        formatter_class=RAW,
        epilog=examples(
            "quantbot run --execution-mode paper --duration 10m",
            "quantbot status",
            "quantbot kill --reason 'investigating fills' --cancel-all",
            "quantbot replay --data ../shared/data/daily/IBM.csv",
        )
        + "\n\n`quantbot COMMAND --help` shows a command's options and examples.",
    )
    parser.add_argument(
        "--version", action="version", version=f"quantbot {quantbot.__version__}",
        help="print quantbot's version and exit",
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--config",
            type=Path,
            default=Path("config.toml"),
            help="config file (default: ./config.toml)",
        )
        return p

    run = with_config(
        sub.add_parser(
            "run",
            **documented(
                "run the trading daemon until Ctrl-C, SIGTERM or --duration",
                "quantbot run --execution-mode paper",
                "quantbot run --execution-mode shadow --trading-mode balanced --duration 1h",
                "quantbot run --execution-mode paper --config examples/binance-testnet.toml",
                "quantbot run --execution-mode live --config live.toml",
            ),
        )
    )
    run.add_argument(
        "--execution-mode",
        required=True,
        choices=EXECUTION_MODES,
        help="paper: submit to the paper venue; shadow: decide and record, send "
        "nothing; live: real orders (needs go-live)",
    )
    run.add_argument(
        "--trading-mode",
        choices=PROFILES,
        default=None,
        dest="trading_profile",
        help="trading profile (default: the config's run.trading_profile, conservative "
        "in the shipped config.toml)",
    )
    run.add_argument(
        "--duration",
        type=parse_duration,
        default=None,
        help="stop by itself after this long, e.g. 30s, 10m, 1h (default: run until stopped)",
    )
    run.add_argument(
        "--dashboard",
        action="store_true",
        help="serve a live read-only page of the run on 127.0.0.1 (URL and token printed "
        "at start, also in state/dashboard.json); same as [dashboard] enabled = true",
    )

    check = with_config(
        sub.add_parser(
            "config",
            **documented(
                "check a config file and print it resolved (secrets redacted) with its sha256",
                "quantbot config check",
                "quantbot config check --config examples/alpaca-paper.toml",
                "quantbot config check --execution-mode live --config live.toml",
            ),
        )
    )
    check.add_argument(
        "action",
        choices=("check",),
        help="check: load the file as a run would (environment overrides included), print "
        "the resolved config as JSON on stdout and its sha256 on stderr; exit 2 naming the "
        "file, key and line of the first problem",
    )
    check.add_argument(
        "--execution-mode",
        choices=EXECUTION_MODES,
        default=None,
        help="also check what this mode needs (live: every limit stated in the file); "
        "default: what every mode needs",
    )
    control.add_parsers(sub, with_config)
    golive.add_parser(sub)
    replay.add_parser(sub, with_config, PROFILES)
    report.add_report_parser(sub)
    data.add_parser(sub)
    leakage.add_parser(sub, with_config)
    walk_forward.add_parser(sub, with_config)
    paper.add_parser(sub, with_config)
    overrides.add_parser(sub, with_config)
    tripwire.add_parser(sub, with_config)
    review.add_parser(sub, with_config)
    charter.add_parser(sub, with_config)
    model.add_parser(sub, with_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except ConfigError as e:
        print(f"quantbot: config error: {redact_text(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    except DataError as e:
        print(f"quantbot: data error: {redact_text(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    except StartupError as e:
        print(f"quantbot: cannot start: {redact_text(str(e))}", file=sys.stderr)
        return EXIT_START


def _load(
    args: argparse.Namespace, trading_profile: str | None = None, execution_mode: str | None = None
):
    if not args.config.is_file():
        raise ConfigError(f"{args.config}: config file not found (use --config PATH)")
    return load_config(args.config, trading_profile=trading_profile, execution_mode=execution_mode)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        loaded = _load(args, args.trading_profile, args.execution_mode)
        from quantbot.daemon.views import ViewOptions  # noqa: PLC0415

        options = ViewOptions(dashboard=args.dashboard)
        return _run(loaded, args.execution_mode, args.duration, options)
    if args.command == "config":
        loaded = _load(args, execution_mode=args.execution_mode)
        out = {
            "config_path": str(loaded.path),
            "config_hash": loaded.hash,
            "from_environment": loaded.env_keys,
            "defaulted_limits": list(loaded.defaulted_limits),
            "config": redacted(loaded.plain()),
        }
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
        print(f"config ok: {loaded.path} sha256={loaded.hash}", file=sys.stderr)
        return EXIT_OK
    research = {
        "replay": replay.run,
        "check-leakage": leakage.run,
        "walk-forward": walk_forward.run,
    }
    if args.command in research:
        if args.command == "replay":  # replay --against may need no config file
            loaded = replay.load(args, _load)
        else:
            loaded = _load(args, getattr(args, "trading_profile", None))
        _configure_logging(Path(loaded.config.run.runtime_dir), "WARNING")
        return research[args.command](args, loaded)
    without_config = {
        "report": report.run_report,
        "data": data.run,
        "model": lambda a: model.dispatch(a, _load),  # verify needs none, train loads one
    }
    if args.command in without_config:
        return without_config[args.command](args)
    with_loaded = {"go-live": golive.dispatch, "paper": paper.run, "review": review.run}
    if args.command in with_loaded:
        return with_loaded[args.command](args, _load(args))
    loaded = _load(args)
    by_command = {
        "overrides": overrides.dispatch,
        "tripwire": tripwire.dispatch,
        "charter": charter.dispatch,
    }
    return by_command.get(args.command, control.dispatch)(args, loaded.config)


def _configure_logging(runtime_dir: Path, level: str) -> None:
    """stderr at ``level`` and ``runtime/logs/quantbot.log`` (0600 in a 0700 directory,
    whatever the umask, never through a link) at DEBUG; every line redacted of URL
    credentials and tokens, tracebacks included, and no variable values in tracebacks."""
    logger.remove()
    logger.configure(patcher=_redact_record)
    logger.add(
        sys.stderr,
        level=level,
        format=_with_traceback("{time:HH:mm:ss.SSS} {level: <7} {message}"),
        backtrace=False,
        diagnose=False,
    )
    # Absolute: loguru opens the file again at each midnight rotation, against the working
    # directory of that moment.
    logs = ensure_private_dir(ensure_private_dir(runtime_dir) / "logs").resolve()
    logger.add(
        logs / "quantbot.log",
        level="DEBUG",
        format=_with_traceback(_FILE_FORMAT),
        rotation="00:00",
        retention=14,
        enqueue=False,
        serialize=False,
        diagnose=False,
        opener=private_opener,  # passed on to open(): loguru creates the file through it
    )


_FILE_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name}:{function}:{line} - {message}"


def _redact_record(record: dict) -> None:
    """Every log line without secrets; a traceback is rendered here, redacted, and carried
    in ``extra`` (loguru would otherwise print the exception's raw text)."""
    record["message"] = redact_text(record["message"])
    exc = record["exception"]
    if exc is not None and exc.type is not None:
        lines = traceback.format_exception(exc.type, exc.value, exc.traceback)
        record["extra"]["traceback"] = redact_text("".join(lines))
        record["exception"] = None


def _with_traceback(head: str) -> Callable[[dict], str]:
    def fmt(record: dict) -> str:
        return head + ("\n{extra[traceback]}" if "traceback" in record["extra"] else "\n")

    return fmt


def _run(loaded, execution_mode: str, duration: float | None, options: Any = None) -> int:
    from quantbot.clock import LiveClock  # noqa: PLC0415
    from quantbot.daemon.daemon import Daemon  # noqa: PLC0415
    from quantbot.daemon.views import ViewOptions, build_views  # noqa: PLC0415

    options = options or ViewOptions()

    config = loaded.config
    _configure_logging(Path(config.run.runtime_dir), config.run.log_level)

    async def main() -> int:
        clock = LiveClock()
        views = build_views(
            loaded, clock, Path(config.run.state_dir), Path(config.run.runtime_dir), options
        )
        daemon = Daemon(loaded, execution_mode=execution_mode, clock=clock, views=views)
        started = False
        try:
            await daemon.start()
            started = True
        finally:
            if not started:  # whatever stopped the start, do not keep state/ locked
                daemon.lock.release()
        with logger.contextualize(run_id=daemon.run_id):
            return await daemon.run(duration)

    return run_on_event_loop(main())
