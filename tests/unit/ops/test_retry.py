"""Bounded retries of idempotent reads, on a SimClock: nothing here sleeps."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.ops import BreakerConfig, RetryConfig
from quantbot.domain.errors import (
    DataError,
    VenueAuthError,
    VenueRateLimited,
    VenueTimeout,
    VenueUnavailable,
)
from quantbot.domain.reasons import ReasonCode
from quantbot.ops.breakers import BreakerBoard, CircuitOpenError
from quantbot.ops.errors import ErrorCategory, ErrorHandler, ErrorInfo
from quantbot.ops.retry import retry_read

POSITIONS = "broker_positions"
CONFIG = RetryConfig(
    max_attempts=5, max_total_s=10.0, initial_backoff_s=0.2, max_backoff_s=2.0, jitter_s=0.1
)


class Read:
    """An async read that raises the given exceptions in turn, then returns ``result``."""

    def __init__(
        self, *failures: BaseException, result: Any = "ok", clock: SimClock | None = None
    ) -> None:
        self.failures = list(failures)
        self.result = result
        self.calls = 0
        self.clock = clock
        self.takes_s = 0.0

    async def __call__(self) -> Any:
        self.calls += 1
        if self.clock is not None:
            self.clock.advance(self.takes_s)
        if self.failures:
            raise self.failures.pop(0)
        return self.result


def elapsed_s(clock: SimClock, start_ns: int) -> float:
    return (clock.monotonic_ns() - start_ns) / NS_PER_S


async def test_succeeds_after_two_transient_failures_after_the_expected_backoff() -> None:
    clock = SimClock(10**18)
    read = Read(VenueTimeout("no reply"), VenueUnavailable("503", status=503), result=[1, 2])
    retries: list[tuple[ErrorInfo, int]] = []
    result = await retry_read(
        read,
        dependency=POSITIONS,
        config=CONFIG,
        clock=clock,
        rng=random.Random(7),
        on_retry=lambda info, n: retries.append((info, n)),
    )
    assert result == [1, 2]
    assert read.calls == 3
    jitter = random.Random(7)
    expected = (0.2 + jitter.random() * 0.1) + (0.4 + jitter.random() * 0.1)
    assert elapsed_s(clock, 10**18) == pytest.approx(expected, abs=1e-8)
    assert [(i.category, i.reason_code, n) for i, n in retries] == [
        (ErrorCategory.TRANSIENT_NETWORK, ReasonCode.NET_RETRY, 1),
        (ErrorCategory.TRANSIENT_NETWORK, ReasonCode.NET_RETRY, 2),
    ]


async def test_backoff_is_capped_at_max_backoff() -> None:
    clock = SimClock()
    config = RetryConfig(
        max_attempts=4, max_total_s=100.0, initial_backoff_s=1.0, max_backoff_s=1.5, jitter_s=0.0
    )
    read = Read(VenueTimeout("a"), VenueTimeout("b"), VenueTimeout("c"))
    assert await retry_read(read, dependency=POSITIONS, config=config, clock=clock) == "ok"
    assert elapsed_s(clock, 0) == pytest.approx(1.0 + 1.5 + 1.5)


async def test_gives_up_after_max_attempts_reraising_the_original() -> None:
    clock = SimClock()
    last = VenueTimeout("third")
    read = Read(VenueTimeout("first"), VenueTimeout("second"), last)
    config = RetryConfig(max_attempts=3, jitter_s=0.0)
    with pytest.raises(VenueTimeout) as info:
        await retry_read(read, dependency=POSITIONS, config=config, clock=clock)
    assert info.value is last
    assert read.calls == 3
    assert elapsed_s(clock, 0) == pytest.approx(0.2 + 0.4)  # no sleep after the last attempt


async def test_stops_when_the_time_budget_on_the_injected_clock_runs_out() -> None:
    clock = SimClock()
    config = RetryConfig(
        max_attempts=10, max_total_s=10.0, initial_backoff_s=1.0, max_backoff_s=1.0, jitter_s=0.0
    )
    read = Read(*(VenueTimeout(f"slow {i}") for i in range(10)), clock=clock)
    read.takes_s = 3.0  # each attempt times out after 3 s
    with pytest.raises(VenueTimeout, match="slow 2"):
        await retry_read(read, dependency=POSITIONS, config=config, clock=clock)
    # 0-3 fail, sleep to 4, 4-7 fail, sleep to 8, 8-11 fail: 11 + 1 > 10, stop
    assert read.calls == 3
    assert elapsed_s(clock, 0) == pytest.approx(11.0)


@pytest.mark.parametrize(
    "exc", [VenueAuthError("revoked", status=401), TypeError("bad operand"), DataError("bad")]
)
async def test_non_retryable_errors_propagate_after_one_call(exc: Exception) -> None:
    clock = SimClock()
    read = Read(exc)
    with pytest.raises(type(exc)) as info:
        await retry_read(read, dependency=POSITIONS, config=CONFIG, clock=clock)
    assert info.value is exc
    assert read.calls == 1
    assert clock.monotonic_ns() == 0


async def test_respects_a_longer_retry_after() -> None:
    clock = SimClock()
    read = Read(VenueRateLimited("429", status=429, retry_after_s=5.0))
    assert await retry_read(read, dependency=POSITIONS, config=CONFIG, clock=clock) == "ok"
    assert read.calls == 2
    assert elapsed_s(clock, 0) == pytest.approx(5.0)


async def test_a_retry_after_beyond_the_budget_gives_up_at_once() -> None:
    clock = SimClock()
    read = Read(VenueRateLimited("429", status=429, retry_after_s=60.0))
    with pytest.raises(VenueRateLimited):
        await retry_read(read, dependency=POSITIONS, config=CONFIG, clock=clock)
    assert read.calls == 1
    assert clock.monotonic_ns() == 0


def _board(clock: SimClock) -> BreakerBoard:
    return BreakerBoard(BreakerConfig(), clock)


async def test_failing_reads_open_the_breaker_and_then_fn_is_not_called() -> None:
    clock = SimClock()
    board = _board(clock)
    one_shot = RetryConfig(max_attempts=1)
    for _ in range(3):
        with pytest.raises(VenueTimeout):
            await retry_read(
                Read(VenueTimeout("x")),
                dependency=POSITIONS,
                config=one_shot,
                clock=clock,
                breakers=board,
            )
    read = Read()
    with pytest.raises(CircuitOpenError) as info:
        await retry_read(read, dependency=POSITIONS, config=CONFIG, clock=clock, breakers=board)
    assert read.calls == 0
    assert info.value.reason.code is ReasonCode.CIRCUIT_OPEN_broker_positions
    assert info.value.reason.context["state"] == "OPEN"


async def test_the_breaker_opening_mid_retry_stops_the_retries() -> None:
    clock = SimClock()
    board = _board(clock)
    read = Read(*(VenueTimeout(str(i)) for i in range(5)))
    with pytest.raises(CircuitOpenError):
        await retry_read(read, dependency=POSITIONS, config=CONFIG, clock=clock, breakers=board)
    assert read.calls == 3  # the 4th attempt met the open breaker


async def test_a_successful_probe_through_retry_read_closes_the_breaker() -> None:
    clock = SimClock()
    board = _board(clock)
    for _ in range(3):
        board.record_failure(POSITIONS)
    clock.advance(60.0)
    read = Read(result="positions")
    result = await retry_read(
        read, dependency=POSITIONS, config=CONFIG, clock=clock, breakers=board
    )
    assert result == "positions"
    assert board.snapshot()[POSITIONS]["state"] == "CLOSED"


async def test_the_handler_does_not_count_a_failure_retry_read_already_counted() -> None:
    clock = SimClock()
    board = _board(clock)
    records: list[dict[str, Any]] = []
    handler = ErrorHandler(
        on_halt=lambda _: None,
        on_skip_symbol=lambda *_: None,
        on_disable_provider=lambda *_: None,
        record=records.append,
        breakers=board,
    )
    config = RetryConfig(max_attempts=2, jitter_s=0.0)
    read = Read(VenueTimeout("a"), VenueTimeout("b"))
    with pytest.raises(VenueTimeout) as info:
        await retry_read(read, dependency=POSITIONS, config=config, clock=clock, breakers=board)
    handler.handle(info.value, dependency=POSITIONS)
    assert board.snapshot()[POSITIONS]["failures_in_window"] == 2
    assert board.snapshot()[POSITIONS]["state"] == "CLOSED"
    assert len(records) == 1


async def test_cancellation_inside_the_read_propagates_and_is_not_retried() -> None:
    clock = SimClock()
    board = _board(clock)
    read = Read(asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await retry_read(read, dependency=POSITIONS, config=CONFIG, clock=clock, breakers=board)
    assert read.calls == 1
    assert board.snapshot()[POSITIONS]["failures_in_window"] == 0


class ParkedClock(SimClock):
    """A SimClock whose sleep parks until cancelled, to cancel a read mid-backoff."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeps: list[float] = []
        self.parked = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.parked.set()
        await asyncio.Event().wait()


async def test_cancellation_mid_backoff_propagates() -> None:
    clock = ParkedClock()
    read = Read(VenueTimeout("a"), VenueTimeout("b"))
    task = asyncio.create_task(retry_read(read, dependency=POSITIONS, config=CONFIG, clock=clock))
    await clock.parked.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert read.calls == 1
    assert len(clock.sleeps) == 1  # cancelled while parked in the first backoff
