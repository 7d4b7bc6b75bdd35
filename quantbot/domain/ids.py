"""Identifiers derived from the decision, so a restart regenerates the same ones."""

from __future__ import annotations

import hashlib

CLIENT_ID_PREFIX = "qb"
_CLIENT_ID_HEX = 30  # "qb" + 30 hex = 32 chars: inside Binance's 36 and Alpaca's 128


def decision_id(symbol: str, bar_ts_ns: int) -> str:
    """One decision per symbol per bar."""
    return f"{symbol}@{bar_ts_ns}"


def client_order_id(namespace: str, decision: str, leg: int = 0) -> str:
    """Deterministic client order id for leg ``leg`` of ``decision``.

    ``namespace`` keeps two accounts (or strategies) on one venue from colliding; it is part
    of config, never of the run, so a restart produces the same id for the same decision.
    """
    digest = hashlib.sha256(f"{namespace}|{decision}|{leg}".encode()).hexdigest()
    return CLIENT_ID_PREFIX + digest[:_CLIENT_ID_HEX]
