"""The README's reason-code table is generated from the enum and must not drift from it."""

from __future__ import annotations

from pathlib import Path

from quantbot.domain.reason_docs import MEANING, markdown_table
from quantbot.domain.reasons import ReasonCode

README = Path(__file__).resolve().parents[3] / "README.md"


def test_every_code_has_a_meaning() -> None:
    assert set(MEANING) == set(ReasonCode)


def test_readme_table_matches_the_enum() -> None:
    text = README.read_text()
    start = text.index("<!-- reason-codes:start -->") + len("<!-- reason-codes:start -->")
    end = text.index("<!-- reason-codes:end -->")
    assert text[start:end].strip() == markdown_table(), (
        "README reason-code table is stale: regenerate with python -m quantbot.domain.reason_docs"
    )


def test_codes_are_category_condition_style() -> None:
    for code in ReasonCode:
        category, _, condition = code.value.partition("_")
        assert code.value == code.name and category.isupper() and condition, code
