"""``errors.translate`` on replies the loopback server does not produce on its own."""

from __future__ import annotations

import json

import pytest
import requests
from alpaca.common.exceptions import APIError
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from quantbot.domain.errors import (
    VenueAuthError,
    VenueBrokerState,
    VenueConnectFailed,
    VenueConnectionError,
    VenueError,
    VenueRateLimited,
    VenueRejected,
    VenueUnavailable,
)
from quantbot.venues.alpaca.errors import NotCancelable, NotFound, UnknownAsset, translate


def api_error(status: int, body: str, **headers: str) -> APIError:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    return APIError(body, requests.HTTPError(response=response))


def alpaca(code: int, message: str) -> str:
    return json.dumps({"code": code, "message": message})


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (403, alpaca(40310000, "insufficient qty available for order"), VenueBrokerState),
        (403, alpaca(40300000, "forbidden"), VenueAuthError),
        (404, alpaca(40410000, "order not found"), NotFound),
        (422, alpaca(40010001, "could not find us_equity 'ZZZZ'"), UnknownAsset),
        (422, alpaca(42210000, "order is not cancelable"), NotCancelable),
        (422, alpaca(40010001, "qty must be > 0"), VenueRejected),
        (504, "<html>gateway timeout</html>", VenueUnavailable),
    ],
)
def test_alpaca_statuses_and_codes_map_to_what_the_operator_must_do(
    status: int, body: str, kind: type[VenueError]
) -> None:
    error = translate(api_error(status, body), "alpaca")

    assert type(error) is kind
    assert error.status == status


def test_a_429_without_retry_after_leaves_the_wait_to_the_breaker() -> None:
    error = translate(api_error(429, alpaca(42910000, "rate limit exceeded")), "alpaca")

    assert isinstance(error, VenueRateLimited)
    assert error.retry_after_s is None


def test_a_connect_timeout_means_nothing_was_sent() -> None:
    error = translate(requests.ConnectTimeout("connect timed out"), "alpaca")

    assert type(error) is VenueConnectFailed


def test_a_connection_never_opened_means_nothing_was_sent_but_a_reset_does_not() -> None:
    refused = NewConnectionError(None, "Failed to establish a new connection: [Errno 111]")
    never_opened = requests.ConnectionError(MaxRetryError(None, "/v2/orders", refused))
    reset = requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError()))

    assert type(translate(never_opened, "alpaca")) is VenueConnectFailed
    assert type(translate(reset, "alpaca")) is VenueConnectionError
