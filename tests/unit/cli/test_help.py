"""What `quantbot --help`, `--version` and each command's `--help` tell a user (issue 19)."""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import shlex
from collections.abc import Iterator

import pytest

import quantbot
from quantbot.cli.main import _parser, main


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser of the command line, the top one included, with its command words."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _commands(child, (*path, name))


COMMANDS = list(_commands(_parser()))
SUBCOMMANDS = [(path, p) for path, p in COMMANDS if path]
_NO_DEFAULT = (None, False, "", [], (), argparse.SUPPRESS)


def _label(path: tuple[str, ...]) -> str:
    return " ".join(("quantbot", *path))


def test_every_command_of_the_cli_is_walked() -> None:
    names = {_label(path) for path, _ in COMMANDS}
    expected = {"quantbot run", "quantbot report tca", "quantbot paper reset"}
    expected |= {"quantbot data download", "quantbot config", "quantbot walk-forward"}
    assert expected <= names


@pytest.mark.parametrize(("path", "parser"), SUBCOMMANDS, ids=[_label(p) for p, _ in SUBCOMMANDS])
def test_every_subcommand_has_examples(path: tuple[str, ...], parser) -> None:
    epilog = parser.epilog or ""
    assert epilog.startswith("examples:"), f"{_label(path)} has no examples epilog"
    lines = [line.strip() for line in epilog.splitlines()[1:] if line.strip()]
    assert lines and all(line.startswith("quantbot ") for line in lines)
    # Each example starts with its own command's words (a group shows its subcommands').
    assert any(line.startswith(_label(path)) for line in lines), epilog
    assert isinstance(parser.formatter_class, type)
    assert issubclass(parser.formatter_class, argparse.RawDescriptionHelpFormatter)


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[_label(p) for p, _ in COMMANDS])
def test_every_option_has_help_naming_its_default(path: tuple[str, ...], parser) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:  # the one-line help in the parent's list
                assert choice.help, f"{_label(path)} {choice.dest}: no help"
            continue
        what = f"{_label(path)} {'/'.join(action.option_strings) or action.dest}"
        assert action.help and action.help is not argparse.SUPPRESS, f"{what}: no help text"
        if action.required or not action.option_strings or action.default in _NO_DEFAULT:
            continue
        if isinstance(action, argparse._VersionAction | argparse._HelpAction):
            continue
        assert "default" in action.help, f"{what}: help does not name its default"


def test_version_prints_the_package_version(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out == f"quantbot {quantbot.__version__}"
    assert re.fullmatch(r"quantbot \d+\.\d+\.\d+", out)
    assert quantbot.__version__ == importlib.metadata.version("quantbot")


def test_top_level_help_says_what_quantbot_is(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "quantbot runs systematic trading strategies" in out
    assert "Logging is configured" not in out  # the module docstring, a developer note
    assert "--version" in out and "examples:" in out


def test_report_tca_help_is_its_own(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["report", "tca", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: quantbot report tca ")
    assert "quantbot report tca --runtime runtime/replay/" in out
    # --out's default is the records directory's reports/, --runtime's when given.
    assert "<--runtime>/reports" in out


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["replay"], "trading profile (default: the config's run.trading_profile"),
        (["config"], "check: load the file as a run would"),
    ],
)
def test_options_that_had_no_help_have_it(argv, text, capsys) -> None:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    assert text in " ".join(capsys.readouterr().out.split())


EXAMPLES = sorted(
    {
        line.strip()
        for _path, parser in COMMANDS
        for line in (parser.epilog or "").splitlines()[1:]
        if line.strip().startswith("quantbot ") and "--help" not in line
    }
)


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_parses(example: str) -> None:
    # Each example is a command line the parser accepts as written (comments dropped).
    argv = shlex.split(example, comments=True)[1:]
    _parser().parse_args(argv)
