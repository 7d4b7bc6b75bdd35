"""Bounded retries, for idempotent reads only (bars, positions, order status).

A submit is never passed here: whether a timed-out submit reached the venue is settled by
looking its client order id up, never by sending it again.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_base, wait_exponential

from quantbot.clock import NS_PER_S, Clock
from quantbot.config.ops import RetryConfig
from quantbot.domain.errors import VenueError
from quantbot.ops.breakers import BreakerBoard, CircuitOpenError
from quantbot.ops.errors import (
    ErrorInfo,
    classify_exception,
    counts_against_breaker,
    mark_breaker_recorded,
)

T = TypeVar("T")
_RNG = random.Random()  # jitter only; tests pass their own seeded rng
# What a venue or provider call raises once the adapter translated it (TimeoutError and
# ConnectionError are OSErrors). Anything else is a bug in our code: it is neither retried
# nor blamed on the dependency, and goes up to the supervisor.
_CALL_FAILURES = (VenueError, OSError)


class _Backoff(wait_base):
    """Exponential from ``initial_backoff_s`` capped at ``max_backoff_s``, plus jitter in
    ``[0, jitter_s)`` from the injected rng; a venue's Retry-After wins when it is longer."""

    def __init__(self, config: RetryConfig, rng: random.Random) -> None:
        self._exp = wait_exponential(multiplier=config.initial_backoff_s, max=config.max_backoff_s)
        self._jitter_s = config.jitter_s
        self._rng = rng

    def __call__(self, retry_state: RetryCallState) -> float:
        delay = self._exp(retry_state) + self._rng.random() * self._jitter_s
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, VenueError) and exc.retry_after_s is not None:
            delay = max(delay, exc.retry_after_s)
        return delay


class _StopOnClock(stop_base):
    """Stop when the time spent so far plus the coming backoff would pass ``max_total_s``,
    measured on the injected clock (tenacity's own stop_after_delay reads the wall clock)."""

    def __init__(self, clock: Clock, start_ns: int, max_total_s: float) -> None:
        self._clock = clock
        self._start_ns = start_ns
        self._max_total_s = max_total_s

    def __call__(self, retry_state: RetryCallState) -> bool:
        elapsed_s = (self._clock.monotonic_ns() - self._start_ns) / NS_PER_S
        return elapsed_s + retry_state.upcoming_sleep > self._max_total_s


def _feed_breaker(breakers: BreakerBoard, dependency: str, exc: Exception) -> None:
    info = classify_exception(exc, dependency=dependency)
    if counts_against_breaker(exc, info):
        breakers.record_failure(dependency, reason=f"{info.category}: {info.reason()}")
        mark_breaker_recorded(exc)  # so ErrorHandler does not count it a second time
    elif not isinstance(exc, CircuitOpenError):
        # The dependency answered; what failed was the request or our own code.
        breakers.record_success(dependency)


class _Attempt:
    """One call of the read, with breaker feedback; shared by the fast path and tenacity."""

    def __init__(
        self, fn: Callable[[], Awaitable[T]], dependency: str, breakers: BreakerBoard | None
    ) -> None:
        self._fn = fn
        self._dependency = dependency
        self._breakers = breakers

    async def __call__(self) -> T:
        breakers = self._breakers
        if breakers is None:
            return await self._fn()
        breakers.guard(self._dependency)
        try:
            result = await self._fn()
        except _CALL_FAILURES as exc:  # feeds the breaker, then re-raises: nothing swallowed
            _feed_breaker(breakers, self._dependency, exc)
            raise
        breakers.record_success(self._dependency)
        return result


def _is_retryable(exc: BaseException, dependency: str) -> bool:
    # Cancellation (a BaseException) is never retried: the classifier would refuse it.
    if not isinstance(exc, Exception):
        return False
    return classify_exception(exc, dependency=dependency).retryable


async def retry_read(
    fn: Callable[[], Awaitable[T]],
    *,
    dependency: str,
    config: RetryConfig,
    clock: Clock,
    breakers: BreakerBoard | None = None,
    rng: random.Random | None = None,
    on_retry: Callable[[ErrorInfo, int], None] | None = None,
) -> T:
    """Call the idempotent read ``fn`` until it succeeds, boundedly.

    For idempotent reads only: an order submit is never passed here.

    Only exceptions the classifier calls retryable (network, rate limit) are retried; any other
    exception, and the last one when attempts or time run out, propagates as raised (never
    tenacity's RetryError). ``asyncio.CancelledError`` is never retried. With ``breakers``,
    each attempt first asks the breaker of ``dependency`` (an open one raises
    ``CircuitOpenError`` without calling ``fn``) and reports its outcome to it.
    ``on_retry(info, attempt_number)`` is called before each backoff sleep.
    """
    start_ns = clock.monotonic_ns()
    attempt = _Attempt(fn, dependency, breakers)
    # Fast path: the first attempt runs without tenacity (whose per-call set-up costs more
    # than a paper venue read). Only after a retryable failure does tenacity take over,
    # starting from that failure, so attempt counts, backoff and the time budget are the same.
    try:
        return await attempt()
    except _CALL_FAILURES as exc:
        if not _is_retryable(exc, dependency):
            raise
        first_failure = exc
    retrying = _retrying(
        config, clock=clock, start_ns=start_ns, dependency=dependency, rng=rng, on_retry=on_retry
    )
    return await retrying(_Replay(first_failure, attempt))


class _Replay:
    """Tenacity's first attempt is the failure already seen; the rest call the read."""

    def __init__(self, failure: Exception, attempt: _Attempt) -> None:
        self._failure: Exception | None = failure
        self._attempt = attempt

    async def __call__(self) -> T:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
        return await self._attempt()


def _retrying(
    config: RetryConfig,
    *,
    clock: Clock,
    start_ns: int,
    dependency: str,
    rng: random.Random | None,
    on_retry: Callable[[ErrorInfo, int], None] | None,
) -> AsyncRetrying:
    def before_sleep(retry_state: RetryCallState) -> None:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if on_retry is not None and isinstance(exc, Exception):
            on_retry(classify_exception(exc, dependency=dependency), retry_state.attempt_number)

    return AsyncRetrying(
        stop=stop_after_attempt(config.max_attempts)
        | _StopOnClock(clock, start_ns, config.max_total_s),
        wait=_Backoff(config, rng if rng is not None else _RNG),
        retry=retry_if_exception(lambda exc: _is_retryable(exc, dependency)),
        sleep=clock.sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
