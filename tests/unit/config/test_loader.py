"""The generic loader: TOML values of environment variables, and where an error points."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from quantbot.config.loader import (
    build,
    env_overrides,
    find_line,
    locator,
    parse_env_value,
    setting,
    to_plain,
)
from quantbot.domain.errors import ConfigError


@attrs.frozen
class Inner:
    rate: float = setting(1.0, gt=0, le=10)
    names: list[str] = setting(["a"])


@attrs.frozen
class Outer:
    inner: Inner = setting(Inner())
    label: str = setting("x", choices=("x", "y"))
    count: int = setting(3, ge=0)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("2.5", 2.5),
        ("7", 7),
        ("true", True),
        ("false", False),
        ('["A","B"]', ["A", "B"]),
        ('"quoted"', "quoted"),
        ("plain string", "plain string"),
        ("/var/lib/quantbot", "/var/lib/quantbot"),
        ("", ""),
        ("INFO", "INFO"),
    ],
)
def test_parse_env_value_reads_toml_or_else_a_plain_string(raw: str, value: object) -> None:
    parsed = parse_env_value(raw)
    assert parsed == value
    assert type(parsed) is type(value)


TEXT = """\
# header comment
[inner]
rate = 2.0   # rate = 9 in a comment is not a key
names = [
  "a",
]

[ outer . "deep" ]
"quoted" = 1
dotted.key = 2
"""


@pytest.mark.parametrize(
    ("key_path", "line"),
    [
        (("inner",), 2),
        (("inner", "rate"), 3),
        (("inner", "names"), 4),
        (("outer", "deep"), 8),
        (("outer", "deep", "quoted"), 9),
        (("outer", "deep", "dotted", "key"), 10),
        (("inner", "missing"), None),
        (("rate",), None),
    ],
)
def test_find_line(key_path: tuple[str, ...], line: int | None) -> None:
    assert find_line(TEXT, key_path) == line


def test_locator_prefers_the_environment_then_the_nearest_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    locate = locator(path, TEXT, {("inner", "rate"): "QUANTBOT__INNER__RATE"})
    assert locate(("inner", "rate")) == "environment QUANTBOT__INNER__RATE"
    assert locate(("inner", "names", "0")) == f"{path}:4"  # an array element: its array's line
    assert locate(("nowhere",)) == str(path)
    assert locator(None, "", {})(("inner",)) == "<defaults>"


def test_build_names_the_key_path_and_the_problem() -> None:
    text = "[inner]\nrate = 0\n"
    locate = locator(Path("f.toml"), text, {})
    with pytest.raises(ConfigError, match=r"^f\.toml:2: inner\.rate = 0\.0: must be > 0$"):
        build(Outer, {"inner": {"rate": 0}}, locate)
    with pytest.raises(ConfigError, match=r"^<defaults>: label = 'z': must be one of x, y$"):
        build(Outer, {"label": "z"}, locator(None, "", {}))
    with pytest.raises(ConfigError, match=r"count = True: must be an integer"):
        build(Outer, {"count": True}, locate)


def test_build_fills_defaults_and_lists_are_not_shared() -> None:
    one, two = build(Outer, {}, locator(None, "", {})), build(Outer, {}, locator(None, "", {}))
    assert one == Outer()
    assert one.inner.names is not two.inner.names


def test_env_overrides_map_names_to_key_paths_and_values() -> None:
    found = env_overrides(
        Outer,
        {
            "QUANTBOT__INNER__RATE": "2.5",
            "QUANTBOT__LABEL": "y",
            "OTHER": "1",
        },
    )
    assert found == {
        ("inner", "rate"): ("QUANTBOT__INNER__RATE", 2.5),
        ("label",): ("QUANTBOT__LABEL", "y"),
    }
    with pytest.raises(ConfigError, match=r"^environment QUANTBOT__INNER__RAT: inner\.rat is not"):
        env_overrides(Outer, {"QUANTBOT__INNER__RAT": "1"})
    with pytest.raises(ConfigError, match=r"^environment QUANTBOT__INNER: inner is a table"):
        env_overrides(Outer, {"QUANTBOT__INNER": "1"})


def test_to_plain_turns_decimals_into_strings() -> None:
    from decimal import Decimal

    assert to_plain({"a": Decimal("0.10"), "b": [Decimal(1)], "c": Inner()}) == {
        "a": "0.10",
        "b": ["1"],
        "c": {"rate": 1.0, "names": ["a"]},
    }
