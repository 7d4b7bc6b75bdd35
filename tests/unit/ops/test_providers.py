"""ops/providers: a disabled provider's window, on a simulated clock."""

from __future__ import annotations

from typing import Any

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.providers import ProvidersConfig
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.ops.providers import ProviderSwitch

T0 = 1_763_726_400 * NS_PER_S
WHY = reason(ReasonCode.PROVIDER_SCHEMA_DISABLE, error="truncated")


def switch(clock: SimClock, lines: list[dict[str, Any]]) -> ProviderSwitch:
    def write_event(event: str, why: Reason, **extra: Any) -> None:
        lines.append({"event": event, **why.to_record()})

    return ProviderSwitch(ProvidersConfig(disable_s=10.0), clock, write_event=write_event)


def test_a_second_failure_while_disabled_pushes_the_end_out_and_says_so() -> None:
    clock, lines = SimClock(T0), []
    providers = switch(clock, lines)
    providers.disable("broker_submit", WHY)
    clock.advance(6.0)
    providers.disable("broker_submit", WHY)
    clock.advance(6.0)  # 12 s after the first: inside the second window
    assert not providers.allow("broker_submit")
    assert [line["until"] for line in lines] == [
        "2025-11-21T12:00:10.000000Z",
        "2025-11-21T12:00:16.000000Z",
    ]
    assert providers.blocked_reason("broker_submit").context["until"] == lines[1]["until"]
    clock.advance(4.0)
    assert providers.allow("broker_submit")
    assert lines[-1]["event"] == "PROVIDER_ENABLED"


def test_expire_re_enables_without_waiting_for_a_use_and_others_are_untouched() -> None:
    clock, lines = SimClock(T0), []
    providers = switch(clock, lines)
    providers.disable("data_primary", WHY)
    assert providers.allow("broker_submit")  # only what was disabled
    clock.advance(9.9)
    providers.expire()
    assert [line["event"] for line in lines] == ["PROVIDER_DISABLED"]
    clock.advance(0.1)
    providers.expire()
    assert [line["event"] for line in lines] == ["PROVIDER_DISABLED", "PROVIDER_ENABLED"]
    assert lines[1]["provider"] == "data_primary"
    assert providers.allow("data_primary")
