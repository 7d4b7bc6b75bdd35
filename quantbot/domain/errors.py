"""Exceptions that carry what the operator must do. Vendor errors are translated at the venue
boundary into these (the full taxonomy arrives with the fail-closed OMS work)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quantbot.domain.reasons import Reason


class QuantbotError(Exception):
    """Base for every error quantbot raises on purpose."""


class ConfigError(QuantbotError):
    """Bad configuration: names the file, key path, offending value and line when known."""


class StartupError(QuantbotError):
    """The daemon cannot start safely (lock held, corrupt journal, missing dependency)."""


class InvariantViolation(QuantbotError):
    """A value that must never exist did (NaN, negative price, overfill): trading halts."""


class DataError(QuantbotError):
    """Input data that cannot be read, with file and line."""


class OrderBuildError(QuantbotError, ValueError):
    """An order builder (``oms/orders``) refused to build: ``reason`` is the ORDER_BUILD_*
    code with its context (symbol, field, values), the message says the same in words."""

    def __init__(self, reason: Reason, message: str | None = None) -> None:
        super().__init__(message if message is not None else str(reason))
        self.reason = reason


class VenueError(QuantbotError):
    """A venue (or data provider) call failed. Adapters translate vendor exceptions into one
    of the subclasses below, once, at the boundary (``raise ... from e``); the classifier in
    ``quantbot.ops.errors`` decides what quantbot does about it."""

    def __init__(
        self,
        message: str,
        *,
        venue: str = "",
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.venue = venue
        self.status = status
        self.retry_after_s = retry_after_s


class VenueAuthError(VenueError):
    """401/403: credentials refused or revoked."""


class VenueRateLimited(VenueError):
    """429 (or Binance's 418): slow down."""


class VenueUnavailable(VenueError):
    """5xx or maintenance: the venue is not serving."""


class VenueTimeout(VenueError):
    """No reply in time. For a write, the venue may or may not have acted."""


class VenueConnectionError(VenueError):
    """Connection refused or reset before a reply."""


class VenueConnectFailed(VenueConnectionError):
    """No connection could be opened (refused, unreachable, name not resolved, TLS handshake
    failed): not one byte of the request left, so the venue never saw it. A reset or a
    disconnect on an open connection is a plain ``VenueConnectionError``: the request may
    have been read."""


class VenueClockSkew(VenueError):
    """The venue refused a signed request for its timestamp (Binance -1021, ccxt
    ``InvalidNonce``): nothing was done. The adapter has re-measured the offset to the venue's
    clock before raising; ``venue_ahead_ms`` is that offset (venue minus local, None when the
    re-measure failed). A read may be retried at once; a refused submit was not accepted."""

    def __init__(
        self,
        message: str,
        *,
        venue: str = "",
        status: int | None = None,
        retry_after_s: float | None = None,
        venue_ahead_ms: int | None = None,
    ) -> None:
        super().__init__(message, venue=venue, status=status, retry_after_s=retry_after_s)
        self.venue_ahead_ms = venue_ahead_ms


class VenueClockSkewPersistent(VenueClockSkew):
    """Clock skew came back too often within the configured window despite re-syncing:
    trading halts (``HALT_CLOCK_SKEW``) until a person fixes the clock."""


class VenueRejected(VenueError):
    """The venue understood the request and refused it (bad price, size, symbol)."""


class VenueBrokerState(VenueError):
    """The account's state refuses it (insufficient funds, account restricted)."""


class VenueSchemaError(VenueError):
    """The reply could not be parsed or no longer has the expected shape."""
