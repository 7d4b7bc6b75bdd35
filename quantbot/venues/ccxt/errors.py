"""Every ccxt exception becomes one of quantbot's venue errors here, and only here.

ccxt already maps Binance's codes to its own classes (``binance.exceptions``); the
translation below sorts them by what quantbot must do:

- ``AuthenticationError`` (incl. ``PermissionDenied``, ``AccountSuspended``) →
  ``VenueAuthError``. ccxt turns Binance's -2015 into ``DDoSProtection`` once a key has
  worked (it can mean a temporary IP ban); a revoked key answers the same, so -2015 is an
  auth failure here: a person looks, rather than the daemon retrying a dead key for ever.
- ``DDoSProtection`` / ``RateLimitExceeded`` (429, 418) → ``VenueRateLimited`` with the
  reply's ``Retry-After``.
- ``RequestTimeout`` (and our own deadline) → ``VenueTimeout``. ccxt wraps aiohttp's
  ``ClientConnectionError`` in ``ExchangeNotAvailable``; what aiohttp raised decides: a
  connection that could not be opened (``ClientConnectorError``: refused, unreachable, name
  not resolved, TLS handshake failed; or a bare ``socket.gaierror``) → ``VenueConnectFailed``,
  nothing was sent; a reset or disconnect on an open connection (``ServerDisconnectedError``,
  ``ClientOSError``) → ``VenueConnectionError``, the request may have been read. Other
  ``ExchangeNotAvailable`` (5xx) and ``OperationFailed`` (Binance's "execution status
  unknown" codes) → ``VenueUnavailable``.
- ``InvalidNonce``, and Binance's -1021 whatever ccxt made of it (binance.com's spot table
  says ``BadRequest``, its general one ``InvalidNonce``) → ``VenueClockSkew``: the timestamp
  was outside ``recvWindow``, nothing was done; the adapter re-syncs its clock offset.
- ``BadResponse`` / ``NullResponse`` → ``VenueSchemaError``.
- ``InsufficientFunds`` → ``VenueBrokerState``; ``InvalidOrder``, ``BadRequest`` and
  ``OperationRejected`` (refused, nothing done) → ``VenueRejected``, with two refinements
  the adapter acts on: ``VenueOrderNotFound`` and ``VenueDuplicateOrder``.
- A bare ``ExchangeError`` carries a Binance code ccxt does not map for this URL (its
  per-market tables only apply to binance.com hosts): 10xx codes are the server's own
  trouble (``VenueUnavailable``), other codes a refusal. Without a code, or when we called
  the SDK wrong (``NotSupported``, ``ArgumentsRequired``, used after close), nobody knows
  what happened: a plain ``VenueError``, which the classifier treats as unknown and halts on.
- Some Binance codes decide the class whatever ccxt made of them, so a proxy or loopback
  URL answers like binance.com: -2015 (above); the futures API's -4116 "ClientOrderId is
  duplicated." (``VenueDuplicateOrder``); and the futures margin refusals -2019 "Margin is
  insufficient.", -2027 (position too large for the leverage) and -2028 (leverage too low
  for the margin balance), which are the account's state (``VenueBrokerState``).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Mapping

import aiohttp
import ccxt

from quantbot.domain.errors import (
    VenueAuthError,
    VenueBrokerState,
    VenueClockSkew,
    VenueConnectFailed,
    VenueConnectionError,
    VenueError,
    VenueRateLimited,
    VenueRejected,
    VenueSchemaError,
    VenueTimeout,
    VenueUnavailable,
)
from quantbot.records.redact import redact_text

# What a ccxt call can raise that ``translate`` understands (TimeoutError: our own deadline).
CCXT_ERRORS: tuple[type[BaseException], ...] = (ccxt.BaseError, TimeoutError)


class VenueOrderNotFound(VenueRejected):
    """The venue holds no (working) order by that id: Binance -2013 / -2011."""


class VenueDuplicateOrder(VenueRejected):
    """The venue refused a client order id it already holds: Binance spot -2010 "Duplicate
    order sent.", futures -4116."""


_CODE = re.compile(r'"code"\s*:\s*(-?\d+)')
# ccxt writes "<id> <METHOD> <url> <status> <reason> <body>" or "<id> <status> <reason> <body>".
_STATUS = re.compile(r"^\S+ (?:(?:GET|POST|PUT|DELETE) \S+ )?([1-5]\d\d) ")
_REVOKED = -2015  # "Invalid API-key, IP, or permissions for action."
_BY_CODE: dict[int, type[VenueError]] = {
    _REVOKED: VenueAuthError,
    -1021: VenueClockSkew,  # "Timestamp for this request is outside of the recvWindow."
    -4116: VenueDuplicateOrder,  # futures: "ClientOrderId is duplicated."
    -2019: VenueBrokerState,  # futures: "Margin is insufficient."
    -2027: VenueBrokerState,  # "Exceeded the maximum allowable position at current leverage."
    -2028: VenueBrokerState,  # "Leverage is smaller than permitted: insufficient margin balance"
}
_SERVER_CODES = range(-1099, -999)  # Binance 10xx: general server or network issues
_MAX_MESSAGE = 300


def translate(
    exc: BaseException, *, venue: str, headers: Mapping[str, str] | None = None
) -> VenueError:
    """The quantbot error for ``exc`` (raise it ``from exc``). ``headers`` are the reply's,
    read for ``Retry-After`` on rate limits. The message never holds a URL's query string
    (timestamps and signatures) and never a credential: ccxt puts the key in a header."""
    text = redact_text(str(exc)) or repr(exc)
    status = _status(text)
    code = _binance_code(text)
    cls = _classify(exc, code, text)
    message = f"{type(exc).__name__}: {text}"
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    retry = _retry_after(headers) if cls is VenueRateLimited else None
    return cls(message, venue=venue, status=status, retry_after_s=retry)


def _network(exc: BaseException, code: int | None, text: str) -> type[VenueError]:
    if isinstance(exc.__cause__, aiohttp.ClientConnectorError | socket.gaierror):
        return VenueConnectFailed  # no connection was opened: no byte of the request left
    if isinstance(exc.__cause__, aiohttp.ClientConnectionError | ConnectionError):
        return VenueConnectionError
    if isinstance(exc, ccxt.ExchangeNotAvailable):
        return VenueUnavailable  # an HTTP 5xx (or a gateway's 404/403)
    return VenueConnectionError


def _refusal(exc: BaseException, code: int | None, text: str) -> type[VenueError]:
    if isinstance(exc, ccxt.InvalidOrder) and "Duplicate order" in text:
        return VenueDuplicateOrder
    if type(exc) is not ccxt.ExchangeError:
        return VenueRejected
    if code is None:
        return VenueError
    return VenueUnavailable if code in _SERVER_CODES else VenueRejected


Rule = type[VenueError] | Callable[[BaseException, int | None, str], type[VenueError]]
# First match wins: subclasses before the classes they refine.
_RULES: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], Rule], ...] = (
    ((TimeoutError, ccxt.RequestTimeout), VenueTimeout),
    (ccxt.AuthenticationError, VenueAuthError),
    ((ccxt.DDoSProtection, ccxt.RateLimitExceeded), VenueRateLimited),
    (ccxt.InvalidNonce, VenueClockSkew),  # timestamp outside recvWindow: nothing done
    (ccxt.NetworkError, _network),
    (ccxt.BadResponse, VenueSchemaError),
    (ccxt.OperationFailed, VenueUnavailable),
    (ccxt.InsufficientFunds, VenueBrokerState),
    (ccxt.OrderNotFound, VenueOrderNotFound),
    ((ccxt.NotSupported, ccxt.ArgumentsRequired, ccxt.ExchangeClosedByUser), VenueError),
    (ccxt.ExchangeError, _refusal),
)


def _classify(exc: BaseException, code: int | None, text: str) -> type[VenueError]:
    if code in _BY_CODE:
        return _BY_CODE[code]
    for classes, rule in _RULES:
        if isinstance(exc, classes):
            return rule if isinstance(rule, type) else rule(exc, code, text)
    return VenueError


# Binance's refusals of an order's own shape, answered as a refused submit (REJECTED) with
# the check that failed: (code, words in its message or "") -> check.
_ORDER_REFUSALS: tuple[tuple[int, str, str], ...] = (
    (-2021, "", "stop_price"),  # futures: "Order would immediately trigger."
    (-2022, "", "reduce_only"),  # futures: "ReduceOnly Order is rejected."
    (-2010, "trigger immediately", "stop_price"),  # spot: "Order would trigger immediately."
    (-2010, "relationship of the prices", "oco_prices"),
    (-2010, "immediately match and take", "post_only"),  # an OCO's LIMIT_MAKER leg
)


def order_refusal(error: VenueError) -> tuple[str, int] | None:
    """``(check, Binance code)`` when ``error`` is the venue refusing an order for its own
    prices or flags (a stop the market has reached, a reduce-only order with nothing to
    reduce, an OCO's legs on the wrong sides); None for any other error."""
    if not isinstance(error, VenueRejected):
        return None
    text = str(error)
    code = _binance_code(text)
    for refused, words, check in _ORDER_REFUSALS:
        # ccxt keeps the reply's code, or (a message it knows) only the message.
        if (code == refused and words in text) or (code is None and words and words in text):
            return check, refused
    return None


def _status(text: str) -> int | None:
    found = _STATUS.search(text)
    return int(found.group(1)) if found else None


def _binance_code(text: str) -> int | None:
    found = _CODE.search(text)
    return int(found.group(1)) if found else None


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            try:
                return float(value)
            except ValueError:
                return None
    return None
