"""What the README claims, checked against the code where a machine can check it.

- every command line in the "Commands" table names a real subcommand (and sub-action), every
  option it shows exists on that (sub)command's parser, and every `a\\|b\\|c` list of words is
  the choices the parser accepts; every subcommand and sub-action has a row;
- every config key the README writes as `[section] key`, `[section.sub]` or `section.key`
  exists in the schema (the resolved tree of the shipped config.toml), `<profile>` and
  `<name>` standing for any table of their level;
- every file the "Files" tables name under state/ and runtime/ is a name the code writes (a
  string literal in quantbot/ or bench/), and the journal's row names every journal event;
- every code in a table column headed "codes" or "reason code" is a ReasonCode;
- every `dir/file.py` and `python -m module` it names exists;
- every link to a section, and every section named in quotes (`see "Cost gate"`), is a heading.

Each check is a function of the README's text returning what is wrong, so that each can be
shown to catch a deliberately wrong line (the ``*_catches_*`` tests below).
"""

from __future__ import annotations

import argparse
import ast
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from quantbot.cli.main import _parser
from quantbot.config.schema import PROFILES, load_config
from quantbot.domain.reasons import ReasonCode
from quantbot.oms.journal import EventType

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

# A decision record has a part per stage named as the stage's config section (`sizer`,
# `limits`, `governor` ...): these keys of those parts are record fields, not config keys, so
# `sizer.verdict` or `limits.detail.portfolio_vol` is not looked up in the schema.
RECORD_FIELDS = {
    "cost_gate": {"learned_override"},
    "daily_risk": {"sleeve"},
    "governor": {"clamps"},
    "limits": {"applied", "detail"},
    "sizer": {"ai", "used", "verdict", "target_notional_usd"},
    "turnover": {"learned_override", "symbol"},
}
FILE_SUFFIXES = (".json", ".jsonl", ".sock", ".py", ".csv", ".html", ".log", ".toml", ".gz")


def section(text: str, heading: str) -> str:
    """The body of a ``## heading`` / ``### heading`` section, up to the next heading of the
    same or a higher level."""
    match = re.search(rf"^(#+) {re.escape(heading)}\n", text, flags=re.M)
    assert match is not None, f"README has no section {heading!r}"
    level = len(match.group(1))
    rest = text[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, flags=re.M)
    return rest[: end.start()] if end else rest


def tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Markdown tables as (header, rows), cells split on unescaped pipes."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln for ln in block.splitlines() if ln.startswith("|")]
        if len(lines) >= 2 and set(lines[1].replace("|", "").strip()) <= set("-: "):
            out.append((_cells(lines[0]), [_cells(ln) for ln in lines[2:]]))
    return out


def table_rows(text: str) -> list[list[str]]:
    return [row for _, rows in tables(text) for row in rows]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


# -- commands ---------------------------------------------------------------------------------


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings}


def _choices(parser: argparse.ArgumentParser) -> list[set[str]]:
    return [
        {str(c) for c in a.choices}
        for a in parser._actions
        if a.choices and not isinstance(a, argparse._SubParsersAction)
    ]


def command_problems(text: str) -> tuple[list[str], set[tuple[str, ...]]]:
    """(what is wrong, the (sub)command paths the table names)."""
    problems: list[str] = []
    named: set[tuple[str, ...]] = set()
    root = _parser()
    for row in table_rows(section(text, "Commands")):
        shown = re.match(r"`([^`]+)`", row[0])
        if shown is None:
            continue
        line = shown.group(1)
        if not line.startswith("quantbot "):
            continue  # `python -m quantbot ...`
        # `overrides list [--json] \\| rollback VERSION`: an alternative after the first may
        # be a sibling sub-action of the one the first names
        alternatives = re.split(r"\s\\\|\s", line.removeprefix("quantbot "))
        parser, path = root, ()
        parent, parent_path = root, ()
        for n, alternative in enumerate(alternatives):
            words = alternative.split()
            if n == 0 or (words and words[0] in _subparsers(parent)):
                parser, path = (root, ()) if n == 0 else (parent, parent_path)
            while words and words[0] in _subparsers(parser):
                parent, parent_path = parser, path
                path += (words[0],)
                parser = _subparsers(parser)[words.pop(0)]
            if not path and words != ["--version"]:
                problems.append(f"{line!r}: {words[0]!r} is not a quantbot command")
                break
            named.update(path[:k] for k in range(1, len(path) + 1))
            problems += _option_problems(line, " ".join(words), parser, path)
    return problems, named


def _option_problems(
    line: str, shown: str, parser: argparse.ArgumentParser, where: tuple[str, ...]
) -> list[str]:
    problems = []
    known = _options(parser) | {o for p in _subparsers(parser).values() for o in _options(p)}
    for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", shown):
        if option not in known:
            problems.append(f"{line!r}: quantbot {' '.join(where)} has no option {option}")
    choices = [*_choices(parser), set(_subparsers(parser))]
    for listed in re.findall(r"(?<![\w:-])([a-z][a-z_-]*(?:\\\|[a-z][a-z_-]*)+)(?![\w:])", shown):
        words = set(listed.split("\\|"))
        if not any(words <= c for c in choices):
            problems.append(f"{line!r}: quantbot {' '.join(where)} does not accept {listed}")
    return problems


def _all_commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> set[tuple[str, ...]]:
    out = set()
    for name, sub in _subparsers(parser).items():
        out.add((*path, name))
        out |= _all_commands(sub, (*path, name))
    return out


def test_commands_table_names_real_commands_and_options() -> None:
    problems, _ = command_problems(README.read_text())
    assert problems == []


def test_every_command_has_a_row() -> None:
    _, named = command_problems(README.read_text())
    assert sorted(_all_commands(_parser()) - named) == []


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        ("| `quantbot frobnicate [--json]` | x |", "'frobnicate' is not a quantbot command"),
        ("| `quantbot status [--jsn]` | x |", "quantbot status has no option --jsn"),
        ("| `quantbot charter status \\| promote --force` | x |", "charter promote has no option"),
        ("| `quantbot run --execution-mode paper\\|demo` | x |", "does not accept paper\\|demo"),
    ],
)
def test_command_check_catches_a_wrong_row(wrong: str, says: str) -> None:
    anchor = "| `quantbot --version` |"
    text = README.read_text().replace(anchor, f"{wrong}\n{anchor}")
    problems, _ = command_problems(text)
    assert any(says in p for p in problems), problems


# -- config keys ------------------------------------------------------------------------------


@cache
def _schema() -> dict[str, Any]:
    return load_config(ROOT / "config.toml").plain()


def _resolves(parts: list[str]) -> bool:
    nodes: list[Any] = [_schema()]
    for part in parts:
        found: list[Any] = []
        for node in (n for n in nodes if isinstance(n, dict)):
            if part == "<profile>":
                found += [node[p] for p in PROFILES if p in node]
            elif part.startswith("<") or part == "*":
                if not node:
                    return True  # a table of the user's (`<name>`), none shipped to look into
                found += list(node.values())
            elif part in node:
                found.append(node[part])
        nodes = found
    return bool(nodes)


def config_key_problems(text: str) -> list[str]:
    body = re.sub(r"<!-- reason-codes:start -->.*<!-- reason-codes:end -->", "", text, flags=re.S)
    sections = set(_schema())
    problems = []
    for shown in sorted(set(re.findall(r"`([^`\n]+)`", body))):
        bracket = re.fullmatch(r"\[([\w.<>*\"-]+)\](?: (\w+)(?: = .*)?)?", shown)
        if bracket is not None:
            parts = [p.strip('"') for p in re.findall(r'"[^"]+"|[^.]+', bracket.group(1))]
            parts += [bracket.group(2)] if bracket.group(2) else []
            if parts[0] == "instruments":
                continue  # [instruments."SYM"]: a table per symbol, none shipped
        else:
            dotted = re.fullmatch(r"([a-z_]+(?:\.(?:[a-z_]+|<[a-z]+>|\*))+)(?: = .*)?", shown)
            if dotted is None or shown.endswith(FILE_SUFFIXES):
                continue
            parts = dotted.group(1).split(".")
            if parts[1] in RECORD_FIELDS.get(parts[0], ()):
                continue
            if parts[0] not in sections:
                continue  # a record field (`net.weights`) or a module path
        if not _resolves(parts):
            problems.append(f"`{shown}`: no such config key")
    return problems


def test_config_keys_in_readme_exist() -> None:
    assert config_key_problems(README.read_text()) == []


@pytest.mark.parametrize(
    "wrong",
    ["`[pretrade] max_executionz = 30`", "`daily_risk.roll_minute`", "`[liquidity.<profile>] nope`",
     "`[sessions]`"],
)  # fmt: skip
def test_config_key_check_catches_a_wrong_key(wrong: str) -> None:
    problems = config_key_problems(README.read_text() + f"\nSee {wrong}.\n")
    assert problems == [f"{wrong}: no such config key"]


# -- files ------------------------------------------------------------------------------------


@cache
def _literals() -> str:
    """Every string literal in quantbot/ and bench/ (f-strings' constant parts included), one
    a line: what the code can name a file."""
    out = []
    for path in [*ROOT.joinpath("quantbot").rglob("*.py"), *ROOT.joinpath("bench").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                out.append(node.value)
    return "\n".join(out)


def file_problems(text: str) -> list[str]:
    problems = []
    files = section(text, "Files")
    for row in table_rows(files):
        for shown in re.findall(r"`([^`]+)`", row[0]):
            # `manifests/<run_id>.json`: each literal part must be in the code
            fragments = [f.strip("/.-") for f in re.split(r"<[^>]*>|/", shown)]
            for fragment in (f for f in fragments if re.search(r"[a-z]", f)):
                if fragment not in _literals():
                    problems.append(f"`{shown}`: {fragment!r} is named nowhere in the code")
    journal = next(r for r in table_rows(files) if r[0] == "`journal.jsonl`")
    for event in (v for k, v in vars(EventType).items() if k.isupper()):
        if f"`{event}`" not in journal[1]:
            problems.append(f"the journal row does not name the {event} event")
    return problems


def test_files_section_names_files_the_code_writes() -> None:
    assert file_problems(README.read_text()) == []


def test_file_check_catches_a_wrong_line() -> None:
    text = README.read_text().replace(
        "| `status.json` |", "| `brokers.json` | made up |\n| `status.json` |"
    )
    assert file_problems(text) == ["`brokers.json`: 'brokers.json' is named nowhere in the code"]
    text = README.read_text().replace("`RESURRECTED`, ", "")
    assert file_problems(text) == ["the journal row does not name the RESURRECTED event"]


# -- reason codes in tables -------------------------------------------------------------------


def code_column_problems(text: str) -> list[str]:
    codes = {c.value for c in ReasonCode}
    problems = []
    for header, rows in tables(text):
        if header[-1] not in ("codes", "reason code"):
            continue
        for row in rows:
            for shown in re.findall(r"`([^`]+)`", row[-1]):
                prefix = re.split(r"\*|<", shown)[0]
                if shown in codes or (prefix != shown and any(c.startswith(prefix) for c in codes)):
                    continue
                problems.append(f"`{shown}` is not a ReasonCode")
    return problems


def test_codes_in_code_columns_are_reason_codes() -> None:
    assert code_column_problems(README.read_text()) == []


def test_code_column_check_catches_a_wrong_code() -> None:
    text = README.read_text().replace("`COST_GATE_EDGE_BELOW_COST` |", "`COST_GATE_BELOW` |", 1)
    assert code_column_problems(text) == ["`COST_GATE_BELOW` is not a ReasonCode"]


# -- paths and modules ------------------------------------------------------------------------

# Paths the README shows as the user's own (a sleeve file of theirs), not the project's.
USER_PATHS = {"path/file.py", "sleeves/momentum.py"}


def path_problems(text: str) -> list[str]:
    """Every `dir/file.py` (a module of quantbot/, or a file of the repository) and every
    `python -m module` the README names exists."""
    problems = []
    for shown in sorted(set(re.findall(r"`([\w./-]+/[\w.-]+\.(?:py|toml))(?::\w+)?`", text))):
        if shown not in USER_PATHS and not any(
            (base / shown).exists() for base in (ROOT, ROOT / "quantbot")
        ):
            problems.append(f"`{shown}` does not exist")
    for module in sorted(set(re.findall(r"python -m ([\w.]+)", text))):
        path = ROOT.joinpath(*module.split("."))
        if not (path.with_suffix(".py").exists() or (path / "__main__.py").exists()):
            problems.append(f"python -m {module}: no such module")
    return problems


def test_paths_and_modules_in_readme_exist() -> None:
    assert path_problems(README.read_text()) == []


def test_path_check_catches_a_wrong_path() -> None:
    text = README.read_text() + "\n`risk/guard.py` and `python -m quantbot.testing.kraken`\n"
    assert path_problems(text) == [
        "`risk/guard.py` does not exist",
        "python -m quantbot.testing.kraken: no such module",
    ]


# -- references between sections --------------------------------------------------------------


def reference_problems(text: str) -> list[str]:
    """Every `[..](#anchor)` is a heading's GitHub anchor, and every section named in quotes
    (`see "Cost gate"`) begins a heading."""
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    headings = re.findall(r"^#+ (.+)$", prose, flags=re.M)
    anchors = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}
    problems = [
        f"(#{a}) is no heading's anchor"
        for a in sorted(set(re.findall(r"\]\(#([^)]+)\)", prose)))
        if a not in anchors
    ]
    quoted = set(re.findall(r'(?:[Ss]ee|in|under|of) "([A-Z][^"\n]{2,70})"', prose))
    problems += [
        f'"{q}" is no section'
        for q in sorted(quoted)
        if not any(h == q or h.startswith(f"{q}:") for h in headings)
    ]
    return problems


def test_section_references_resolve() -> None:
    assert reference_problems(README.read_text()) == []


def test_reference_check_catches_a_wrong_reference() -> None:
    text = README.read_text() + '\nSee "Cost gates" and [it](#cost-gates).\n'
    assert reference_problems(text) == [
        "(#cost-gates) is no heading's anchor",
        '"Cost gates" is no section',
    ]
