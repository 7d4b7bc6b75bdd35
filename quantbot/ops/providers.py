"""Disabled providers: what the error classifier's DISABLE_PROVIDER verdict does.

A provider (a dependency by its breaker name: ``broker_submit``, ``broker_positions``,
``broker_open_orders``, ``data_primary``, ``quotes_primary`` ...) whose reply no longer has the
expected shape (``PROVIDER_SCHEMA_DISABLE``: a truncated or unparsable order reply, a bar
payload of the wrong shape) is disabled for ``[providers] disable_s`` seconds:

- ``disable`` writes a ``PROVIDER_DISABLED`` record line saying until when and what that
  blocks, and raises ``ALERT_PROVIDER_DISABLED``; a second failure while disabled pushes the
  end out (a new line says the new end);
- while it lasts, ``allow`` is False and ``blocked_reason`` is the ``PROVIDER_DISABLED`` reason
  the OMS refuses with: an order to a disabled ``broker_submit`` is NOT_SENT (its decision
  record carries the reason), a read of a disabled dependency is refused as an open breaker's
  is (``CircuitOpenError``), so a disabled ``quotes_primary`` blocks new risk through the quote
  gate and a disabled ``data_primary`` yields no polled bars;
- once the time is over, the next ``allow`` (or ``expire``, from the daemon's housekeeping)
  re-enables it: a ``PROVIDER_ENABLED`` record line and ``ALERT_PROVIDER_ENABLED``.

A disabled ``data_primary`` with ``[providers] data_fallback`` configured blocks nothing: the
bars come from the fallback meanwhile (``marketdata/fallback``), and the record says
``fallback: "<name>"``. Every other provider, and ``data_primary`` without a fallback, says
``fallback: null`` and what is blocked instead. Nothing here is persisted: a restart starts
with every provider enabled (its first reply of the wrong shape disables it again).

Cheap when nothing is disabled: ``allow`` is one truth test of an empty dict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quantbot.clock import NS_PER_S, Clock, iso_utc
from quantbot.config.providers import ProvidersConfig
from quantbot.domain.reasons import Reason, ReasonCode, reason

DATA = "data_primary"
# What a disabled provider blocks, as the record states it.
BLOCKS = {
    "broker_submit": "new orders (NOT_SENT, PROVIDER_DISABLED)",
    "broker_positions": "position reads",
    "broker_open_orders": "order and fill reads",
    "data_primary": "bar reads (polling, and the push feed's REST backfill)",
    "data_fallback": "bar reads from the data fallback (with data_primary down too: no bars)",
    "quotes_primary": "quote reads, so new risk (the quote gate fails closed)",
}

Emit = Callable[..., Any]  # AlertSink.emit(code, **context)


class ProviderSwitch:
    def __init__(
        self,
        config: ProvidersConfig,
        clock: Clock,
        *,
        write_event: Callable[..., None],
        alert: Emit | None = None,
    ) -> None:
        self._disable_ns = round(config.disable_s * NS_PER_S)
        self._clock = clock
        self._write_event = write_event  # EventWriter.write_event(event, why, **extra)
        self._alert = alert
        # provider -> (monotonic end, wall-clock end, the reason it was disabled for)
        self._disabled: dict[str, tuple[int, int, Reason]] = {}
        # provider -> the fallback that serves what it served while it is disabled
        self._fallbacks: dict[str, str] = {}
        if config.data_fallback != "none":
            self._fallbacks[DATA] = config.data_fallback

    def disable(self, provider: str, why: Reason) -> None:
        """The error handler's ``on_disable_provider``: disabled from now for disable_s."""
        end = self._clock.monotonic_ns() + self._disable_ns
        until_ns = self._clock.now_ns() + self._disable_ns
        self._disabled[provider] = (end, until_ns, why)
        stated = self._stated(provider)
        self._write_event("PROVIDER_DISABLED", stated)
        if self._alert is not None:
            context = {k: v for k, v in stated.context.items() if k != "provider"}
            self._alert(ReasonCode.ALERT_PROVIDER_DISABLED, dependency=provider, **context)

    def allow(self, provider: str) -> bool:
        if not self._disabled:
            return True
        entry = self._disabled.get(provider)
        if entry is None:
            return True
        if self._clock.monotonic_ns() < entry[0]:
            return False
        self._enable(provider)
        return True

    def expire(self) -> None:
        """Re-enable every provider whose time is over (the daemon's housekeeping calls it,
        so the PROVIDER_ENABLED line does not wait for the next use)."""
        if not self._disabled:
            return
        now = self._clock.monotonic_ns()
        for provider in [p for p, entry in self._disabled.items() if now >= entry[0]]:
            self._enable(provider)

    def blocked_reason(self, provider: str) -> Reason:
        """Why a use of ``provider`` is refused now (it must be disabled)."""
        return self._stated(provider)

    def _stated(self, provider: str) -> Reason:
        _end, until_ns, why = self._disabled[provider]
        fallback = self._fallbacks.get(provider)
        if fallback is not None:
            blocks = f"nothing: bars come from the data_fallback ({fallback}) meanwhile"
        elif provider == DATA:
            blocks = f"{BLOCKS[DATA]}: no data_fallback configured, so no bars and no decisions"
        else:
            blocks = BLOCKS.get(provider, f"every call to {provider}")
        return reason(
            ReasonCode.PROVIDER_DISABLED,
            provider=provider,
            until=iso_utc(until_ns),
            disable_s=self._disable_ns / NS_PER_S,
            cause=why.code.value,
            fallback=fallback,
            blocks=blocks,
        )

    def _enable(self, provider: str) -> None:
        _end, until_ns, why = self._disabled.pop(provider)
        stated = reason(
            ReasonCode.PROVIDER_ENABLED,
            provider=provider,
            disabled_until=iso_utc(until_ns),
            cause=why.code.value,
        )
        self._write_event("PROVIDER_ENABLED", stated)
        if self._alert is not None:
            self._alert(
                ReasonCode.ALERT_PROVIDER_ENABLED,
                dependency=provider,
                disabled_until=iso_utc(until_ns),
            )
