"""Sleeve kinds: the built-in ones by name, a class of your own as ``module:Class``.

A sleeve is declared in the config as a ``[signals.<name>]`` table: its ``kind`` (when left
out, the name, which must then be a built-in kind) and its parameters, the table's other keys.
The name is the sleeve's key in the decision records and in ``[regime_components.<profile>]``.

Built-in kinds: ``trend``, ``mean_reversion``, ``ema_sar`` and ``logistic_model`` (a
verified model artifact, ``signals.model_sleeve``; their parameters are checked by
``signals.params``), and ``external``, the TradeIntent inbox's sleeve, which ``[inbox] enabled``
declares rather than ``[signals]``. Any other kind is a class (``signals.user_code``), called
``Class(name, **params)``; it must satisfy ``Sleeve`` (``signals.base``): keep the ``name`` it
is given, set ``warmup_bars`` (an int >= 0), and have ``update(bar)`` (or ``update(bar,
context)`` with ``wants_context = True``, see ``signals.sleeve_set``) and ``reset(symbol)``.
It rejects parameters it cannot use by raising ``ValueError`` or ``TypeError``.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import keyword
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import attrs

from quantbot.config import loader
from quantbot.signals.base import Sleeve
from quantbot.signals.ema_sar import EmaSarSleeve
from quantbot.signals.mean_reversion import MeanReversionSleeve
from quantbot.signals.model_sleeve import LogisticModelSleeve
from quantbot.signals.params import (
    EmaSarParams,
    LogisticModelParams,
    MeanReversionParams,
    TrendParams,
)
from quantbot.signals.timeframe import timeframe_seconds
from quantbot.signals.trend import TrendSleeve
from quantbot.signals.user_code import SleeveCode, SleeveCodeError, file_sha256, load_user_class

# kind -> (sleeve class, its parameters' schema)
BUILTINS: dict[str, tuple[type, type]] = {
    "trend": (TrendSleeve, TrendParams),
    "mean_reversion": (MeanReversionSleeve, MeanReversionParams),
    "ema_sar": (EmaSarSleeve, EmaSarParams),
    "logistic_model": (LogisticModelSleeve, LogisticModelParams),  # verified artifact
}
INBOX_KIND = "external"  # the inbox's sleeve: declared by [inbox] enabled, weighted as external
KINDS = (*BUILTINS, INBOX_KIND)
# Lowercase, so that QUANTBOT__SIGNALS__<NAME>__<KEY> variables can name it.
NAME = re.compile(r"[a-z][a-z0-9_]*")
_OWN_CLASS = "a class of your own is 'module:Class' or 'path/file.py:Class'"
_PROTOCOL = "does not satisfy the Sleeve protocol (quantbot.signals.base.Sleeve)"


class SleeveParamsError(Exception):
    """Parameters a sleeve class does not take or rejects; ``key`` is the one at fault."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


# (key path below [signals.<name>], the value there, what is wrong)
DeclProblem = tuple[tuple[str, ...], Any, str]


@attrs.frozen
class SleeveDecl:
    """One ``[signals.<name>]`` table: a config ``loader.FreeTable``.

    ``params`` are a built-in kind's checked parameters with their defaults filled in, or a
    class's parameters as written. ``origin`` is the directory a relative file in ``kind`` is
    relative to (the config file's); it is where the config came from, not part of it.
    """

    free_table: ClassVar[bool] = True

    name: str
    kind: str
    params: dict[str, Any]
    origin: str = attrs.field(default="", eq=False)
    # The bars it reads (``signals.timeframe``): "" for the data's own, else "1h" ...
    timeframe: str = ""

    @classmethod
    def from_table(cls, value: Any, key_path: tuple[str, ...], where: loader.Locator) -> Any:
        name = key_path[-1]
        if not isinstance(value, Mapping):
            raise loader.config_error(where, key_path, value, "must be a table")
        if not NAME.fullmatch(name) or keyword.iskeyword(name):
            raise loader.config_error(
                where,
                key_path,
                value,
                "a sleeve's name is lowercase letters, digits and _ (and not a Python keyword)",
            )
        if name == INBOX_KIND:
            raise loader.config_error(
                where, key_path, value, "external is the inbox's sleeve: " + _INBOX_HOW
            )
        kind = value.get("kind", name)
        at_kind = (*key_path, "kind") if "kind" in value else key_path
        if not isinstance(kind, str):
            raise loader.config_error(where, at_kind, kind, "must be a string")
        params = {k: v for k, v in value.items() if k not in ("kind", "timeframe")}
        timeframe = value.get("timeframe", "")
        if "timeframe" in value:  # multi-timeframe: the bars it reads (signals.timeframe)
            try:
                timeframe_seconds(timeframe)
            except ValueError as e:
                at = (*key_path, "timeframe")
                raise loader.config_error(where, at, timeframe, str(e)) from e
        if kind in BUILTINS:
            schema = BUILTINS[kind][1]
            params = loader.to_plain(loader.build(schema, params, where, key_path))
        elif kind == INBOX_KIND:
            raise loader.config_error(where, at_kind, kind, _INBOX_HOW)
        elif ":" not in kind:
            shown = kind if "kind" in value else dict(value)
            raise loader.config_error(where, at_kind, shown, _unknown_kind(kind, "kind" in value))
        return cls(name, kind, params, timeframe=timeframe)

    def plain(self) -> dict[str, Any]:
        """The table as a config file would say it (``kind`` left out when it is the name)."""
        kind = {"kind": self.kind} if self.kind != self.name else {}
        timeframe = {"timeframe": self.timeframe} if self.timeframe else {}
        return {**kind, **timeframe, **self.params}

    @staticmethod
    def key_type(key: str) -> Any:
        return str if key in ("kind", "timeframe") else Any

    def code(self) -> SleeveCode:
        """The class this declaration names, and its source file and hash."""
        if self.kind in BUILTINS:
            return builtin_code(BUILTINS[self.kind][0])
        return load_user_class(self.kind, Path(self.origin or "."))

    def build(self) -> Sleeve:
        """A new sleeve as declared (``SleeveCodeError`` / ``SleeveParamsError`` if it cannot)."""
        builtin = BUILTINS.get(self.kind)
        cls = builtin[0] if builtin is not None else self.code().cls
        # A copy: a class that keeps (and changes) a list it was given leaves the config be.
        params = copy.deepcopy(self.params)
        if builtin is not None and "artifact" in params:
            params["artifact"] = str(self.artifact_dir())
        return make_sleeve(cls, self.name, params)

    def artifact_dir(self) -> Path:
        """A model sleeve's artifact directory: ``artifact``, relative to ``origin``."""
        return Path(self.origin or ".") / self.params["artifact"]

    def problems(self) -> Iterator[DeclProblem]:
        """What is wrong with this declaration; the config check reports the first."""
        if self.kind in BUILTINS:
            params = BUILTINS[self.kind][1](**self.params)
            for key, value, problem in params.problems(f"signals.{self.name}"):
                yield (key,), value, problem
            return
        try:
            self.build()
        except SleeveCodeError as e:
            yield ("kind",), self.kind, str(e)
        except SleeveParamsError as e:
            key = () if e.key is None else (e.key,)
            yield key, self.params.get(e.key) if e.key else self.plain(), str(e)


_INBOX_HOW = (
    "it runs when [inbox] enabled = true, and its weight is regime_components.<profile>.external"
)


def _unknown_kind(kind: str, written: bool) -> str:
    near = difflib.get_close_matches(kind, KINDS, n=1)
    guess = f"; did you mean {near[0]!r}?" if near else ""
    builtin = f"built-in kinds: {', '.join(BUILTINS)}"
    if written:
        return f"unknown sleeve kind ({builtin}; {_OWN_CLASS}){guess}"
    return f"no kind given, and the name is not a built-in kind ({builtin}; {_OWN_CLASS}){guess}"


def builtin_code(cls: type) -> SleeveCode:
    source = getattr(sys.modules[cls.__module__], "__file__", None) or ""
    return SleeveCode(cls, source, file_sha256(source))


def make_sleeve(cls: type, name: str, params: Mapping[str, Any]) -> Sleeve:
    """``cls(name, **params)``, checked against the ``Sleeve`` protocol before and after."""
    check_protocol(cls)
    _check_params(cls, params)
    try:
        sleeve = cls(name, **params)
    except (ValueError, TypeError) as e:
        raise SleeveParamsError(f"{cls.__qualname__} rejects its parameters: {e}") from e
    if getattr(sleeve, "name", None) != name:
        got = getattr(sleeve, "name", "no name")
        raise SleeveCodeError(f"{cls.__qualname__} must keep the name it is given ({got!r})")
    warmup = getattr(sleeve, "warmup_bars", None)
    if not (isinstance(warmup, int) and not isinstance(warmup, bool) and warmup >= 0):
        raise SleeveCodeError(f"{cls.__qualname__} {_PROTOCOL}: warmup_bars = {warmup!r}")
    return sleeve


def check_protocol(cls: type) -> None:
    """The class's side of ``Sleeve``: ``update`` and ``reset`` taking what the step passes."""
    wants = getattr(cls, "wants_context", False) is True
    needs = {
        "update": ("(bar, context)" if wants else "(bar)", 2 if wants else 1),
        "reset": ("(symbol)", 1),
    }
    for method, (shown, count) in needs.items():
        found = getattr(cls, method, None)
        if not callable(found):
            raise SleeveCodeError(f"{cls.__qualname__} {_PROTOCOL}: no {method}{shown} method")
        try:
            inspect.signature(found).bind(None, *([None] * count))  # self, then the arguments
        except TypeError as e:
            context = " (wants_context = True)" if method == "update" and wants else ""
            raise SleeveCodeError(
                f"{cls.__qualname__} {_PROTOCOL}: {method} must take {shown}{context}: {e}"
            ) from e


def _check_params(cls: type, params: Mapping[str, Any]) -> None:
    """Keys the constructor does not take, or that it needs and did not get."""
    try:
        taken = list(inspect.signature(cls).parameters.values())
    except ValueError:  # no signature to read (a class built in C): its call will tell
        return
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not taken or taken[0].kind not in positional:
        raise SleeveCodeError(f"{cls.__qualname__} must take the sleeve's name first")
    named = [
        p
        for p in taken[1:]
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in taken):
        names = [p.name for p in named]
        for key in params:
            if key not in names:
                takes = ", ".join(names) or "no parameters"
                raise SleeveParamsError(f"not a parameter of {cls.__qualname__} ({takes})", key)
    missing = [p.name for p in named if p.default is p.empty and p.name not in params]
    if missing:
        raise SleeveParamsError(f"{cls.__qualname__} needs {', '.join(missing)}")


def describe(decls: Mapping[str, SleeveDecl]) -> dict[str, dict[str, Any]]:
    """Each declared sleeve's kind, source file, its sha256 and params (for the manifest)."""
    result = {}
    for name, decl in decls.items():
        code = decl.code()
        result[name] = {
            "kind": decl.kind,
            "source": code.source,
            "sha256": code.sha256,
            "params": decl.params,
            **({"timeframe": decl.timeframe} if decl.timeframe else {}),
        }
    return result
