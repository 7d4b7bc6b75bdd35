"""The symbol a bar file's name implies.

A name is cut before its first part (parts split at ``-``, ``_`` or ``.``) that names a
timeframe, and upper-cased: ``GOOG_daily.csv``, ``GOOG-1d.csv`` and ``goog.daily.csv`` are all
``GOOG``; ``BTCUSDT-1m-2024-01.csv`` is ``BTCUSDT``; ``BRK-B.csv`` stays ``BRK-B``. Timeframe
parts: a number with a unit (``1m``, ``15min``, ``4h``, ``1d``, ``1day``, ``1w``, ``1mo``),
a unit with a number as MetaTrader writes them (``M15``, ``H1``, ``D1``, ``W1``), and the words
``daily``, ``hourly``, ``minute``, ``weekly``, ``monthly``, ``intraday``, ``eod``. A part
that is a lone letter (``-B``, ``.L``) is never taken for a timeframe.
"""

from __future__ import annotations

import re

_PARTS = re.compile(r"([-_.])")
_TIMEFRAME = re.compile(
    r"\d+(s|sec|secs|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days|w|wk|week|weeks"
    r"|mo|mon|month|months|y|yr|year)"
    r"|[mhdw]\d+"
    r"|daily|hourly|minute|minutely|weekly|monthly|intraday|eod",
    re.IGNORECASE,
)


def symbol_from_name(stem: str) -> str:
    """The symbol in a file name's ``stem`` (see the module docstring)."""
    parts = _PARTS.split(stem)  # names at even indices, separators at odd ones
    for i in range(2, len(parts), 2):
        if _TIMEFRAME.fullmatch(parts[i]):
            return "".join(parts[: i - 1]).upper()
    return stem.upper()
