"""alpaca-py and requests exceptions, translated into quantbot's venue error taxonomy.

The one place that knows what Alpaca's statuses and error codes mean. Everything that calls
the SDK does so inside ``translated(...)``, which re-raises any vendor exception as a
``quantbot.domain.errors.VenueError`` subclass (``raise ... from e``). Messages carry the
status, Alpaca's code and its message, never a request header (the credentials live there).

Alpaca answers several different refusals with the same 422 / 40010001, so the refusals the
adapter must tell apart get their own subclasses of ``VenueRejected`` here: a duplicate
client order id (resolved by a lookup, never a resubmit), an unknown asset, a missing order
and an order that can no longer be canceled.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import requests
from alpaca.common.exceptions import APIError
from urllib3.exceptions import MaxRetryError, NewConnectionError

from quantbot.domain.errors import (
    VenueAuthError,
    VenueBrokerState,
    VenueConnectFailed,
    VenueConnectionError,
    VenueError,
    VenueRateLimited,
    VenueRejected,
    VenueSchemaError,
    VenueTimeout,
    VenueUnavailable,
)

# Inside an SDK call a ValueError is the SDK (or pydantic, or the JSON decoder) saying the
# reply did not have the expected shape; requests' JSONDecodeError is one too.
VENDOR_ERRORS = (APIError, requests.RequestException, ValueError)
INSUFFICIENT_FUNDS_CODE = 40310000


class AlpacaRefusal(VenueRejected):
    """Base of the refusals the adapter handles itself; ``code`` is Alpaca's error code."""

    def __init__(self, message: str, *, venue: str, status: int | None, code: int | None) -> None:
        super().__init__(message, venue=venue, status=status)
        self.code = code


class DuplicateClientOrderId(AlpacaRefusal):
    """422 "client_order_id must be unique": the venue already holds an order with that id."""


class UnknownAsset(AlpacaRefusal):
    """422 "asset ... not found": Alpaca does not trade that symbol."""


class NotFound(AlpacaRefusal):
    """404: no such order (or asset)."""


class NotCancelable(AlpacaRefusal):
    """422 "order is not cancelable": filled, already canceled, or held by the venue."""


@contextlib.contextmanager
def translated(venue: str) -> Iterator[None]:
    """Run SDK code; a vendor exception leaves as the matching ``VenueError``."""
    try:
        yield
    except VENDOR_ERRORS as e:
        raise translate(e, venue) from e


def translate(exc: BaseException, venue: str) -> VenueError:
    """The taxonomy error for one alpaca-py / requests exception."""
    if isinstance(exc, APIError):
        return _api_error(exc, venue)
    if isinstance(exc, requests.exceptions.JSONDecodeError):
        return VenueSchemaError(f"unreadable reply: {exc}", venue=venue)
    if isinstance(exc, requests.RequestException):
        return _transport(exc, venue)
    return VenueSchemaError(f"unexpected reply: {type(exc).__name__}: {exc}", venue=venue)


def _transport(exc: requests.RequestException, venue: str) -> VenueError:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        # No connection was made, so nothing was sent.
        return VenueConnectFailed(f"connect timed out: {exc}", venue=venue)
    if isinstance(exc, requests.exceptions.Timeout):
        return VenueTimeout(f"no reply in time: {exc}", venue=venue)
    if _connect_failed(exc):
        return VenueConnectFailed(f"could not connect: {exc}", venue=venue)
    # A reset or a dropped connection after the request went out: it may have been read.
    return VenueConnectionError(f"{type(exc).__name__}: {exc}", venue=venue)


def _connect_failed(exc: BaseException) -> bool:
    """requests' ConnectionError for a connection that was never opened: urllib3 gave up in
    ``MaxRetryError`` on a ``NewConnectionError`` (refused, unreachable, name not resolved),
    before one byte of the request was written. A reset once connected arrives as a
    ``ProtocolError`` or an ``OSError`` instead."""
    if not isinstance(exc, requests.exceptions.ConnectionError) or not exc.args:
        return False
    cause = exc.args[0]
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError)


def _api_error(exc: APIError, venue: str) -> VenueError:
    status = exc.status_code
    code, text = _body(str(exc))
    message = f"{status} {code}: {text}" if code is not None else f"{status}: {text}"
    if status is None:
        return VenueSchemaError(f"error without a status: {message}", venue=venue)
    if status == 403 and code == INSUFFICIENT_FUNDS_CODE:
        # Alpaca's "forbidden" for what the account cannot afford (buying power, shares to
        # sell); any other 401/403 means the credentials were refused.
        return VenueBrokerState(message, venue=venue, status=status)
    if status in (401, 403):
        return VenueAuthError(message, venue=venue, status=status)
    if status == 429:
        return VenueRateLimited(
            message, venue=venue, status=status, retry_after_s=_retry_after(exc)
        )
    if status >= 500:
        return VenueUnavailable(message, venue=venue, status=status)
    return _refusal(message, text.lower(), venue=venue, status=status, code=code)


def _refusal(message: str, text: str, *, venue: str, status: int, code: int | None) -> VenueError:
    kind: type[AlpacaRefusal] | None = None
    if status == 404:
        kind = NotFound
    elif "client_order_id must be unique" in text:
        kind = DuplicateClientOrderId
    elif "not cancelable" in text:
        kind = NotCancelable
    elif "could not find" in text or ("asset" in text and "not found" in text):
        kind = UnknownAsset
    if kind is None:
        return VenueRejected(message, venue=venue, status=status)
    return kind(message, venue=venue, status=status, code=code)


def _body(text: str) -> tuple[int | None, str]:
    """Alpaca's ``{"code": ..., "message": ...}``; anything else is kept as text."""
    try:
        body = json.loads(text)
    except ValueError:
        return None, text[:200]
    if not isinstance(body, dict):
        return None, text[:200]
    code = body.get("code")
    return (code if isinstance(code, int) else None), str(body.get("message", text[:200]))


def _retry_after(exc: APIError) -> float | None:
    """Seconds until the venue takes requests again. Alpaca's 429 says so with
    ``X-RateLimit-Reset`` (Unix seconds), read against the same response's ``Date`` so no local
    clock is involved; a plain ``Retry-After`` in seconds (a proxy's) is read too. Neither:
    None, and the breaker's own backoff applies."""
    response = exc.response
    if response is None:
        return None
    headers = response.headers
    with contextlib.suppress(KeyError, TypeError, ValueError):
        return max(0.0, float(headers["Retry-After"]))
    with contextlib.suppress(KeyError, TypeError, ValueError):
        reset = float(headers["X-RateLimit-Reset"])
        sent = parsedate_to_datetime(headers["Date"]).timestamp()
        return max(0.0, reset - sent)
    return None
