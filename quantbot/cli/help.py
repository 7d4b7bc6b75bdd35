"""Help texts shared by the subcommands: an ``examples:`` epilog kept as written."""

from __future__ import annotations

import argparse
import textwrap

RAW = argparse.RawDescriptionHelpFormatter


def examples(*lines: str) -> str:
    """An epilog of example command lines, one per line, indented as argparse does."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def documented(help_text: str, *example_lines: str) -> dict[str, object]:
    """``add_parser`` keywords: the one-line help, the same as a description, examples."""
    return {
        "help": help_text,
        "description": textwrap.fill(help_text[:1].upper() + help_text[1:] + ".", 79),
        "epilog": examples(*example_lines),
        "formatter_class": RAW,
    }
