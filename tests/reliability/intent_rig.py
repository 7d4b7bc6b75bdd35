"""The TradeIntent inbox as the daemon wires it (``open_intake``), in-process on a SimClock:
the real inbox directory, offsets, ids file and records file in a tmp dir, and the real
decision step reading the external sleeve the intake feeds."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.schema import load_config
from quantbot.daemon.intake import IntentIntake, open_intake
from quantbot.decision.step import Decision, DecisionStep, PortfolioView
from quantbot.domain.values import Bar, Instrument
from quantbot.records.jsonl import RotatingJsonl

T0 = 1_763_726_400 * NS_PER_S  # 2025-11-21T12:00:00Z
BAR_S = 60
SYMBOL = "SIMA"
# A fast trend sleeve and no mean reversion: on a flat market the built-in sleeves want
# nothing, so only an outside intent can move the target.
ENV = {
    "QUANTBOT__SIGNALS__TREND__FAST": "3",
    "QUANTBOT__SIGNALS__TREND__SLOW": "8",
    "QUANTBOT__REGIME_COMPONENTS__CONSERVATIVE__MEAN_REVERSION": "0",
}
WARMUP = 8
VIEW = PortfolioView(equity=100_000.0, positions={}, pending={})


def intent_line(**fields: Any) -> bytes:
    return orjson.dumps({"symbol": SYMBOL, "side": "buy", "confidence": 0.8, **fields})


class IntakeRig:
    """One daemon's worth of inbox: a new ``IntakeRig`` on the same ``root`` is a restart."""

    def __init__(self, root: Path, env: dict[str, str] | None = None, start_ns: int = T0) -> None:
        environ = {
            **ENV,
            "QUANTBOT__RUN__RUNTIME_DIR": str(root / "runtime"),
            "QUANTBOT__RUN__STATE_DIR": str(root / "state"),
            **(env or {}),
        }
        self.config = load_config(None, environ=environ).config
        self.clock = SimClock(start_ns)
        self.start_ns = start_ns
        instruments = {SYMBOL: Instrument(SYMBOL, "0.01", "1", min_notional="1")}
        self.step = DecisionStep.from_config(
            self.config, self.clock, instruments, {"run_id": "run", "execution_mode": "paper"}
        )
        self.records_path = root / "runtime" / "decisions.jsonl"
        self.records = RotatingJsonl(self.records_path, self.clock)
        daemon = SimpleNamespace(config=self.config, clock=self.clock, mode="paper")
        intake = open_intake(
            daemon.config,
            mode=daemon.mode,
            clock=daemon.clock,
            step=self.step,
            records=self.records,
        )
        assert intake is not None
        self.intake: IntentIntake = intake
        self.inbox = root / "runtime" / "inbox"
        self.i = 0

    def drop(self, *lines: bytes, name: str = "model.jsonl") -> None:
        with (self.inbox / name).open("ab") as f:
            f.write(b"".join(line + b"\n" for line in lines))

    def take(self) -> list[dict[str, Any]]:
        """Poll once; the records this poll wrote, as read back from the records file."""
        before = len(self.written())
        self.intake.take()
        return self.written()[before:]

    def written(self) -> list[dict[str, Any]]:
        self.records.flush()
        if not self.records_path.exists():
            return []
        return [orjson.loads(x) for x in self.records_path.read_bytes().splitlines()]

    def flat_bar(self) -> Decision:
        """One flat bar at price 100; the clock sits at its close, as in the daemon."""
        ts = self.start_ns + self.i * BAR_S * NS_PER_S
        self.i += 1
        self.clock.set(ts + BAR_S * NS_PER_S)
        return self.step.step(Bar(SYMBOL, ts, 100.0, 100.0, 100.0, 100.0, 1e6, BAR_S), VIEW)

    def warm_up(self) -> None:
        for _ in range(WARMUP):
            self.flat_bar()

    def close(self) -> None:
        self.records.close()
