"""Fault injection for the loopback venue servers, per endpoint.

A test (or a person running a server by hand) arms faults on an endpoint name such as
``"POST /api/v3/order"``; each armed fault fires on the next matching requests, ``times`` of
them, then disarms. The servers ask ``FaultBook.take(endpoint)`` for every request and act on
what they get back. Faults can be armed from Python (in-process servers) or over HTTP
(``POST /__faults`` with a JSON body ``{"endpoint": ..., "kind": ..., ...}``; ``DELETE
/__faults`` clears them), so a server started with ``python -m`` is controllable too.

What each kind means, as the real venue would show it to a client:

- ``delay``: read the request, wait ``delay_s`` seconds, then act on it and answer normally
  (a client that gave up or died meanwhile does not stop the venue acting);
- ``accept_then_timeout``: do what the request asks (the order exists), then hold the
  connection without answering for ``delay_s`` (the client's timeout fires first);
- ``http_429``: refuse with 429 and ``Retry-After: retry_after_s`` (nothing done);
- ``http_5xx``: refuse with ``status`` (default 503), nothing done;
- ``http_5xx_after_accept``: do what the request asks, then answer ``status`` (default 500);
- ``truncated_json``: do it, then answer with a 200 whose JSON body is cut in half;
- ``connection_reset``: close the connection without answering (nothing done);
- ``auth_revoked``: refuse with the venue's 401 (every request, until cleared).
- ``late_visibility`` (order entry only): take the order but show it to nobody (look-ups,
  cancels, open orders, trades) for ``delay_s`` seconds of the server's wall clock, and
  answer "execution status unknown"; then it is placed (a market order fills). With
  ``backdated`` its trades carry the time it was taken, older than trades shown meanwhile.
"""

from __future__ import annotations

from typing import Any

import attrs

KINDS = (
    "delay",
    "accept_then_timeout",
    "http_429",
    "http_5xx",
    "http_5xx_after_accept",
    "truncated_json",
    "connection_reset",
    "auth_revoked",
    "late_visibility",
)
# Kinds that let the request take effect before the fault shows.
AFTER_EFFECT = frozenset(
    {"accept_then_timeout", "http_5xx_after_accept", "truncated_json", "late_visibility"}
)


@attrs.frozen(slots=True)
class Fault:
    kind: str = attrs.field(validator=attrs.validators.in_(KINDS))
    times: int = 1  # how many matching requests it fires on; 0 = until cleared
    delay_s: float = 0.0
    status: int = 503
    retry_after_s: float = 1.0
    backdated: bool = False  # late_visibility: trades stamped when the order was taken

    @property
    def after_effect(self) -> bool:
        return self.kind in AFTER_EFFECT

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> tuple[str, Fault]:
        """``{"endpoint": "POST /v2/orders", "kind": "http_429", ...}`` → (endpoint, fault)."""
        fields = dict(data)
        endpoint = str(fields.pop("endpoint", "*"))
        return endpoint, cls(**fields)


class FaultBook:
    """Armed faults by endpoint (``"*"`` matches every endpoint), fired in arming order."""

    def __init__(self) -> None:
        self._armed: dict[str, list[list[Any]]] = {}  # endpoint -> [[fault, remaining], ...]
        self.fired: list[tuple[str, str]] = []  # (endpoint, kind), for tests to assert on

    def arm(self, endpoint: str, fault: Fault) -> None:
        self._armed.setdefault(endpoint, []).append([fault, fault.times])

    def clear(self) -> None:
        self._armed.clear()

    def take(self, endpoint: str) -> Fault | None:
        """The fault to apply to this request, if any (consumes one use of it)."""
        for key in (endpoint, "*"):
            queue = self._armed.get(key)
            if not queue:
                continue
            entry = queue[0]
            fault, remaining = entry
            if remaining == 1:
                queue.pop(0)
            elif remaining > 1:
                entry[1] = remaining - 1
            self.fired.append((endpoint, fault.kind))
            return fault
        return None
