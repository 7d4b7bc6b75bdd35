"""Generic machinery: a TOML document (plus ``QUANTBOT__SECTION__KEY`` environment overrides)
into a tree of frozen attrs classes, failing on the first unknown key, wrong type or
out-of-range value with the file, line, key path and offending value.

The schema lives in ``quantbot.config.schema``; this module knows nothing about trading.

A table whose keys are not fixed (a sleeve declaration: ``kind`` plus the parameters its class
takes) is a class with the three hooks of ``FreeTable``: the loader hands it the table, asks it
for its plain form, and asks it the type of a key an environment variable names.
"""

from __future__ import annotations

import copy
import math
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar, Protocol

import attrs

from quantbot.domain.errors import ConfigError
from quantbot.records.redact import is_secret_name, redact_text

ENV_PREFIX = "QUANTBOT__"


def setting(
    default: Any,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """An attrs field with the bounds the loader checks (inclusive ``ge``/``le``, strict ``gt``)."""
    meta = {"ge": ge, "gt": gt, "le": le, "choices": choices}
    if isinstance(default, list | dict):
        return attrs.field(factory=lambda d=default: type(d)(d), metadata=meta)
    if attrs.has(type(default)):
        # A copy per instance, like lists above: the default table's lists (market.symbols)
        # must not be one object shared by every Config ever built.
        return attrs.field(factory=lambda d=default: copy.deepcopy(d), metadata=meta)
    return attrs.field(default=default, metadata=meta)


def locator(path: Path | None, text: str, env_keys: Mapping[tuple[str, ...], str]) -> Callable:
    """Where a key's value came from: its environment variable, or file and line."""

    def locate(key_path: tuple[str, ...]) -> str:
        for depth in range(len(key_path), 0, -1):
            if key_path[:depth] in env_keys:
                return f"environment {env_keys[key_path[:depth]]}"
        if path is None:
            return "<defaults>"
        # An array element or a key inside an inline table has no line of its own: point at
        # the line of the nearest enclosing key or table instead of at no line at all.
        for depth in range(len(key_path), 0, -1):
            line = find_line(text, key_path[:depth])
            if line:
                return f"{path}:{line}"
        return str(path)

    return locate


_KEY_PART = r"(?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')"
_KEY_RE = re.compile(rf"^\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*=")
_HEAD_RE = re.compile(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$")
_ARRAY_HEAD_RE = re.compile(r"^\s*\[\[([^\[\]]+)\]\]\s*(#.*)?$")


def _key_parts(dotted: str) -> tuple[str, ...]:
    return tuple(p.strip("\"'") for p in re.findall(_KEY_PART, dotted))


def find_line(text: str, key_path: tuple[str, ...]) -> int | None:
    """Best-effort line of ``key_path`` in a TOML text (tables, dotted headers and keys)."""
    table: tuple[str, ...] = ()
    arrays: dict[tuple[str, ...], int] = {}  # [[name]] seen so far: its elements are numbered
    for number, line in enumerate(text.splitlines(), start=1):
        element = _ARRAY_HEAD_RE.match(line)
        if element:
            name = _key_parts(element.group(1))
            arrays[name] = arrays.get(name, -1) + 1
            table = (*name, str(arrays[name]))
            if table == key_path:
                return number
            continue
        head = _HEAD_RE.match(line)
        if head:
            table = _key_parts(head.group(1))
            if table == key_path:
                return number
            continue
        key = _KEY_RE.match(line)
        if key and (*table, *_key_parts(key.group(1))) == key_path:
            return number
    return None


def _describe(key_path: tuple[str, ...]) -> str:
    return ".".join(key_path) or "<root>"


Locator = Callable[[tuple[str, ...]], str]


class FreeTable(Protocol):
    """A config table the loader does not build field by field (see the module docstring)."""

    free_table: ClassVar[bool]

    @classmethod
    def from_table(cls, value: Any, key_path: tuple[str, ...], where: Locator) -> Any:
        """Built from the TOML ``value`` at ``key_path``; a bad value is ``config_error``."""
        ...

    def plain(self) -> Any:
        """The JSON-ready form (hashed, printed, and built back by ``from_table``)."""
        ...

    @staticmethod
    def key_type(key: str) -> Any:
        """The type an environment override of ``key`` is read as (``Any``: a TOML value)."""
        ...


def config_error(
    where: Locator, key_path: tuple[str, ...], value: Any, problem: str
) -> ConfigError:
    """The loader's error for ``key_path``: its file and line (or variable), key and value."""
    return _fail(where, key_path, value, problem)


def _fail(where: Locator, key_path: tuple[str, ...], value: Any, problem: str) -> ConfigError:
    shown = redact_text(repr(value))  # a URL's password or token is not echoed either
    return ConfigError(f"{where(key_path)}: {_describe(key_path)} = {shown}: {problem}")


def _inline_secret(where: Locator, key_path: tuple[str, ...], fields: Mapping) -> ConfigError:
    """A secret written into the file: refused, naming the key and line but never the value
    (the error is printed, and may be pasted into a ticket)."""
    table = ".".join(key_path[:-1])
    env_keys = [f"{table}.{name}" for name in sorted(fields) if name.endswith("_env")]
    instead = f" and name that variable in {' or '.join(env_keys)}" if env_keys else ""
    return ConfigError(
        f"{where(key_path)}: {_describe(key_path)}: a secret does not belong in the config file "
        f"(its value is not shown here); put it in an environment variable{instead}"
    )


def _check_bounds(
    field: attrs.Attribute, value: Any, key_path: tuple[str, ...], where: Locator
) -> None:
    meta = field.metadata
    checks = (
        ("ge", lambda b: value >= b, "must be >= {}"),
        ("gt", lambda b: value > b, "must be > {}"),
        ("le", lambda b: value <= b, "must be <= {}"),
    )
    for key, ok, message in checks:
        bound = meta.get(key)
        if bound is not None and not ok(bound):
            raise _fail(where, key_path, value, message.format(bound))
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise _fail(where, key_path, value, f"must be one of {', '.join(choices)}")


def _coerce(  # noqa: C901, PLR0911, PLR0912
    tp: Any, value: Any, key_path: tuple[str, ...], where: Locator, base: Any = None
) -> Any:
    origin = typing.get_origin(tp)
    if getattr(tp, "free_table", False):
        return tp.from_table(value, key_path, where)
    if attrs.has(tp):
        if not isinstance(value, Mapping):
            raise _fail(where, key_path, value, "must be a table")
        return _build(tp, value, key_path, where, base)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return None if value is None else _coerce(args[0], value, key_path, where)
    if origin is list:
        if not isinstance(value, list):
            raise _fail(where, key_path, value, "must be an array")
        (item,) = typing.get_args(tp)
        return [_coerce(item, v, (*key_path, str(i)), where) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise _fail(where, key_path, value, "must be a table")
        _, item = typing.get_args(tp)
        return {k: _coerce(item, v, (*key_path, k), where) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(where, key_path, value, "must be true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(where, key_path, value, "must be an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(where, key_path, value, "must be a number")
        if not math.isfinite(value):
            raise _fail(where, key_path, value, "must be finite")
        return float(value)
    if tp is Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _fail(where, key_path, value, "must be a decimal number (string or number)")
        try:
            result = Decimal(str(value))
        except InvalidOperation as e:
            raise _fail(where, key_path, value, "must be a decimal number") from e
        if not result.is_finite():
            raise _fail(where, key_path, value, "must be finite")
        return result
    if tp is str:
        if not isinstance(value, str):
            raise _fail(where, key_path, value, "must be a string")
        return value
    raise TypeError(f"config schema uses unsupported type {tp!r} at {_describe(key_path)}")


def _default_of(field: attrs.Attribute) -> Any:
    default = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        return default.factory()
    return default


def _build(
    cls: type,
    data: Mapping[str, Any],
    key_path: tuple[str, ...],
    where: Locator,
    base: Any = None,
) -> Any:
    """``cls`` from ``data``; keys ``data`` leaves out keep ``base``'s values when given.

    ``base`` is the enclosing field's default: a table like ``[governor.aggressive]`` has its
    own profile defaults, so overriding one of its keys must not reset the others to the
    class-wide defaults (which are the conservative ones).
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in attrs.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown and is_secret_name(unknown[0]):
        raise _inline_secret(where, (*key_path, unknown[0]), fields)
    if unknown:
        bad = (*key_path, unknown[0])
        raise _fail(
            where,
            bad,
            data[unknown[0]],
            f"unknown key (known keys here: {', '.join(sorted(fields))})",
        )
    kwargs = {}
    if base is not None:
        kwargs = {name: copy.deepcopy(getattr(base, name)) for name in fields}
    for name, value in data.items():
        path = (*key_path, name)
        inner = getattr(base, name) if base is not None else _default_of(fields[name])
        coerced = _coerce(hints[name], value, path, where, inner)
        _check_bounds(fields[name], coerced, path, where)
        kwargs[name] = coerced
    return cls(**kwargs)


def parse_env_value(raw: str) -> Any:
    """An environment value is read as a TOML value when it is one, else as a plain string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def env_overrides(
    schema: type, environ: Mapping[str, str]
) -> dict[tuple[str, ...], tuple[str, Any]]:
    """``QUANTBOT__VENUE__SIM__FEE_BPS=2`` → ``{("venue", "sim", "fee_bps"): (name, 2)}``.

    A variable with the prefix that names no key is an error, as a typo in the file would be.
    """
    found: dict[tuple[str, ...], tuple[str, Any]] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        path = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
        leaf = _assert_leaf(schema, path, name)
        raw = environ[name]
        value = parse_env_value(raw)
        if leaf is str and not isinstance(value, str):
            value = raw  # a string key takes the text as it is: namespace 2024 is "2024"
        found[path] = (name, value)
    return found


def _assert_leaf(schema: type, path: tuple[str, ...], env_name: str) -> Any:
    """Check that ``path`` names a key (not a table) and return its declared type."""
    cls: Any = schema
    for depth, part in enumerate(path):
        if typing.get_origin(cls) is dict:  # a table keyed by name: any name
            cls = typing.get_args(cls)[1]
            continue
        if getattr(cls, "free_table", False):
            cls = cls.key_type(part)
            continue
        names = {f.name for f in attrs.fields(cls)} if attrs.has(cls) else set()
        if part not in names:
            raise ConfigError(
                f"environment {env_name}: {_describe(path[: depth + 1])} is not a config key"
            )
        cls = typing.get_type_hints(cls)[part]
    # A free table that also takes a whole value (``whole_value``: a name or a table) is a key.
    whole = getattr(cls, "whole_value", False)
    if attrs.has(cls) or (getattr(cls, "free_table", False) and not whole):
        raise ConfigError(f"environment {env_name}: {_describe(path)} is a table, not a key")
    return cls


def merge(data: dict[str, Any], overrides: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    result = _deep_copy(data)
    for path, value in overrides.items():
        node = result
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment override {_describe(path)}: parent is not a table")
        node[path[-1]] = value
    return result


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data


def build(
    schema: type, data: Mapping[str, Any], where: Locator, key_path: tuple[str, ...] = ()
) -> Any:
    """``schema`` from ``data``, the table at ``key_path`` (errors name keys below it)."""
    return _build(schema, data, key_path, where)


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config file: {e.strerror}") from e
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e


def to_plain(obj: Any) -> Any:
    """attrs tree → JSON-ready dict (Decimal as string), for hashing, printing and manifests."""
    if getattr(obj, "free_table", False):
        return to_plain(obj.plain())
    if attrs.has(type(obj)):
        return {f.name: to_plain(getattr(obj, f.name)) for f in attrs.fields(type(obj))}
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_plain(v) for v in obj]
    if isinstance(obj, Decimal):
        return str(obj)
    return obj
