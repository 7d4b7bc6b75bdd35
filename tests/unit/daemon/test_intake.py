"""The TradeIntent inbox as the daemon wires it: lines dropped in a directory become records
and live intents of the external sleeve, which then moves the decision step's net target."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.schema import Config, load_config
from quantbot.daemon.intake import IntentIntake, open_intake
from quantbot.decision.step import Decision, DecisionStep, PortfolioView
from quantbot.domain.values import Bar, Instrument
from quantbot.records.jsonl import RotatingJsonl
from quantbot.signals.inbox import IntentInbox

T0 = 1_763_726_400 * NS_PER_S  # 2025-11-21T12:00:00Z
BAR_S = 60
SYMBOL = "SIMA"
# A fast trend sleeve (ready after 8 bars); mean reversion does not count, so on a flat market
# the built-in sleeves want nothing and only an outside intent can move the target.
ENV = {
    "QUANTBOT__SIGNALS__TREND__FAST": "3",
    "QUANTBOT__SIGNALS__TREND__SLOW": "8",
    "QUANTBOT__REGIME_COMPONENTS__CONSERVATIVE__MEAN_REVERSION": "0",
}
WARMUP = 8  # flat bars until the trend sleeve is ready (and says 0)
VIEW = PortfolioView(equity=100_000.0, positions={}, pending={})


class Rig:
    """A decision step from the config, its external sleeve fed by a real inbox on disk."""

    def __init__(self, root: Path, env: dict[str, str] | None = None) -> None:
        self.config: Config = load_config(None, environ=ENV if env is None else env).config
        self.clock = SimClock(T0)
        instruments = {SYMBOL: Instrument(SYMBOL, "0.01", "1", min_notional="1")}
        self.step = DecisionStep.from_config(
            self.config, self.clock, instruments, {"run_id": "run-1", "execution_mode": "paper"}
        )
        assert self.step.risk.external is not None  # the inbox is enabled by default
        self.directory = root / "inbox"
        self.records: list[dict[str, Any]] = []
        governor = self.config.risk_params.governor
        self.intake = IntentIntake(
            IntentInbox(self.directory, symbols=self.config.market.symbols, max_line_bytes=1024),
            self.step.risk.external,
            step=self.step,
            leverage_bounds=(governor.min_leverage, governor.max_leverage),
            write=self.records.append,
            clock=self.clock,
            interval_s=self.config.inbox.poll_interval_s,
        )
        self.i = 0

    def drop(self, *lines: bytes, name: str = "model.jsonl") -> None:
        with (self.directory / name).open("ab") as f:
            f.write(b"".join(line + b"\n" for line in lines))

    def flat_bar(self) -> Decision:
        """One flat bar at price 100; the clock sits at its close, as in the daemon."""
        ts = T0 + self.i * BAR_S * NS_PER_S
        self.i += 1
        self.clock.set(ts + BAR_S * NS_PER_S)
        return self.step.step(Bar(SYMBOL, ts, 100.0, 100.0, 100.0, 100.0, 1e6, BAR_S), VIEW)


def intent_line(**fields: Any) -> bytes:
    return orjson.dumps({"symbol": SYMBOL, "side": "buy", "confidence": 0.8, **fields})


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


# -- what each line leaves in the records ------------------------------------------------------


def test_a_valid_v1_0_line_is_recorded_accepted_and_becomes_the_symbols_live_intent(
    rig: Rig,
) -> None:
    rig.drop(intent_line(intent_id="m-1", size_usd=2500, leverage=2))

    assert rig.intake.take() == 1

    [record] = rig.records
    assert record["event"] == "INTENT_ACCEPTED"
    assert record["reason"] is None
    assert record["run_id"] == "run-1"  # the step's record base: the run it belongs to
    assert (record["file"], record["line_no"]) == ("model.jsonl", 1)
    assert record["clamps"] == []
    assert record["intent"]["schema_version"] == "1.0"
    assert record["intent"]["intent_id"] == "m-1"
    assert (record["intent"]["symbol"], record["intent"]["side"]) == (SYMBOL, "buy")
    assert (record["intent"]["size_usd"], record["intent"]["leverage"]) == (2500.0, 2.0)
    live = rig.step.risk.external.live(SYMBOL)
    assert live is not None and live.intent_id == "m-1"
    assert (rig.intake.accepted, rig.intake.rejected) == (1, 0)


def test_ai_leverage_above_the_profile_max_is_clamped_and_the_clamp_recorded(rig: Rig) -> None:
    rig.drop(intent_line(schema_version="1.1", ai_leverage=500, ai_size_usd=1000))

    rig.intake.take()

    [record] = rig.records
    max_leverage = rig.config.risk_params.governor.max_leverage
    assert max_leverage == 20.0  # conservative
    assert record["event"] == "INTENT_ACCEPTED"
    assert record["intent"]["schema_version"] == "1.1"
    assert record["intent"]["ai_leverage"] == max_leverage
    assert record["clamps"] == [
        {
            "code": "INTENT_LEVERAGE_CLAMP",
            "field": "ai_leverage",
            "before": 500.0,
            "after": max_leverage,
            "min": 1.0,
            "max": max_leverage,
        }
    ]
    # The sleeve holds the clamped intent: nothing downstream ever sees the 500.
    assert rig.step.risk.external.live(SYMBOL).ai_leverage == max_leverage


MALFORMED = [
    (b'{"symbol": "SIMA", "side": "buy", "confidence": "high"}', "confidence"),
    (b'{"symbol": "SIMA", "side": "hold", "confidence": 0.5}', "side"),
    (b'{"symbol": "SIMA", "confidence": 0.5}', "side"),
    (b'{"schema_version": "2.0", "symbol": "SIMA", "side": "buy", "confidence": 0.5}',
     "schema_version"),
    (b'{"symbol": "SIMA", "side": "buy", "confidence": 0.5', "<line>"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "field"), MALFORMED)
def test_a_malformed_line_is_recorded_rejected_naming_the_field_with_the_raw_line(
    rig: Rig, raw: bytes, field: str
) -> None:
    rig.drop(intent_line(intent_id="ok-before"), raw)

    assert rig.intake.take() == 2

    accepted, rejected = rig.records
    assert accepted["event"] == "INTENT_ACCEPTED"
    assert rejected["event"] == "INTENT_REJECTED"
    assert rejected["reason"]["code"] == "INTENT_REJECTED"
    assert rejected["reason"]["field"] == field
    assert rejected["reason"]["problem"]
    assert (rejected["file"], rejected["line_no"]) == ("model.jsonl", 2)
    assert rejected["raw"] == raw.decode()
    assert "intent" not in rejected
    # The bad line did not replace the good intent before it.
    assert rig.step.risk.external.live(SYMBOL).intent_id == "ok-before"
    assert (rig.intake.accepted, rig.intake.rejected) == (1, 1)


def test_a_symbol_the_daemon_does_not_trade_is_recorded_unknown_and_never_live(rig: Rig) -> None:
    raw = orjson.dumps({"symbol": "NOPE", "side": "buy", "confidence": 0.9})
    rig.drop(raw)

    rig.intake.take()

    [record] = rig.records
    assert record["event"] == "INTENT_UNKNOWN_SYMBOL"
    assert record["reason"] == {"code": "INTENT_UNKNOWN_SYMBOL", "symbol": "NOPE"}
    assert record["raw"] == raw.decode()
    assert rig.step.risk.external.live("NOPE") is None
    assert rig.intake.rejected == 1


def test_each_line_is_taken_once_across_polls(rig: Rig) -> None:
    rig.drop(intent_line(intent_id="a"))
    rig.intake.take()
    assert rig.intake.take() == 0  # nothing new: no second record, no re-offer
    rig.drop(intent_line(intent_id="b", side="sell"))
    assert rig.intake.take() == 1
    assert [(r["line_no"], r["intent"]["intent_id"]) for r in rig.records] == [(1, "a"), (2, "b")]
    assert rig.step.risk.external.live(SYMBOL).side == "sell"  # the newest intent wins


# -- the intent in the decision ---------------------------------------------------------------


def test_without_an_intent_a_flat_market_decides_nothing(rig: Rig) -> None:
    for _ in range(WARMUP):
        rig.flat_bar()
    decision = rig.flat_bar()
    assert decision.intent is None
    assert decision.record["reason"]["code"] == "NETTING_DEADBAND"
    assert decision.record["sleeves"]["external"]["ready"] is False
    assert decision.record["net"]["contributions"]["external"] == 0.0


def test_a_live_intent_moves_the_net_target_and_the_step_orders_in_its_direction(
    rig: Rig,
) -> None:
    for _ in range(WARMUP):
        rig.flat_bar()
    rig.drop(intent_line(confidence=0.8))
    rig.intake.take()

    decision = rig.flat_bar()

    record = decision.record
    assert record["sleeves"]["external"] == {"target": 1.0, "confidence": 0.8, "ready": True}
    assert record["sleeves"]["trend"] == {"target": 0.0, "confidence": 0.0, "ready": True}
    weights = rig.config.components
    share = weights.external / (weights.trend + weights.external)  # the ready, weighted sleeves
    assert record["net"]["contributions"]["external"] == pytest.approx(share, abs=1e-6)
    assert record["net"]["contributions"]["trend"] == 0.0
    assert record["net"]["target"] == pytest.approx(share, abs=1e-6)
    assert record["net"]["confidence"] == pytest.approx(0.8 * share, abs=1e-6)
    assert decision.intent is not None and decision.intent.side.value == "BUY"
    assert record["reason"] is None
    assert decision.entry is not None and decision.entry.sleeve == "external"


def test_the_sizer_takes_the_intents_clamped_leverage_as_its_hint(rig: Rig) -> None:
    for _ in range(WARMUP):
        rig.flat_bar()
    rig.drop(intent_line(schema_version="1.1", ai_leverage=500, ai_harvest_policy="scalper"))
    rig.intake.take()

    ai = rig.flat_bar().record["sizer"]["ai"]

    assert ai["source"] == {"size": "model", "leverage": "intent", "harvest_policy": "intent"}
    assert ai["harvest_policy"] == "SCALPER"
    # The hint reached the sizer already clamped to the profile (20), then the spot venue's 1x.
    assert ai["leverage"] == 1.0
    assert ai["clamps"] == [
        {"code": "SIZER_LEVERAGE_VENUE_CAP", "proposed": 20.0, "venue_max": 1.0, "source": "intent"}
    ]


def test_an_intent_stops_counting_once_its_ttl_has_passed(rig: Rig) -> None:
    for _ in range(WARMUP):
        rig.flat_bar()
    rig.drop(intent_line())
    rig.intake.take()
    assert rig.flat_bar().record["sleeves"]["external"]["ready"] is True

    rig.i += round(rig.config.inbox.ttl_s / BAR_S)  # the next bar comes a TTL later
    record = rig.flat_bar().record

    assert record["sleeves"]["external"]["ready"] is False
    assert record["net"]["contributions"]["external"] == 0.0
    assert rig.step.risk.external.live(SYMBOL) is None


# -- the daemon task and its wiring -----------------------------------------------------------


async def test_run_forever_takes_lines_as_they_arrive_and_stops_when_cancelled(
    rig: Rig,
) -> None:
    task = asyncio.create_task(rig.intake.run_forever())
    await asyncio.sleep(0)
    rig.drop(intent_line(intent_id="late"))
    for _ in range(3):  # a few polls (the SimClock's sleep only yields)
        await asyncio.sleep(0)

    assert [r["intent"]["intent_id"] for r in rig.records] == ["late"]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_unreadable_inbox_is_recorded_once_and_trading_goes_on(rig: Rig) -> None:
    # The inbox is optional input: losing it must not halt trading, nor flood the records.
    parked = rig.directory.with_name("parked")
    rig.directory.rename(parked)
    task = asyncio.create_task(rig.intake.run_forever())
    for _ in range(5):  # five polls, all failing
        await asyncio.sleep(0)
    assert not task.done()  # still running: nothing crashed, nothing halted
    [record] = rig.records
    assert record["event"] == "INBOX"
    assert record["reason"]["code"] == "INTENT_INBOX_UNREADABLE"
    assert record["reason"]["directory"] == str(rig.directory)
    parked.rename(rig.directory)  # it comes back: lines are taken again
    rig.drop(intent_line(intent_id="back"))
    for _ in range(3):
        await asyncio.sleep(0)
    assert rig.records[-1]["intent"]["intent_id"] == "back"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def _daemon(root: Path, profile: str, **env: str) -> SimpleNamespace:
    """What ``open_intake`` reads off the daemon: its config, clock and execution mode."""
    environ = {
        **ENV,
        "QUANTBOT__RUN__RUNTIME_DIR": str(root / "runtime"),
        "QUANTBOT__RUN__STATE_DIR": str(root / "state"),
        **env,
    }
    config = load_config(None, environ=environ, trading_profile=profile).config
    return SimpleNamespace(config=config, clock=SimClock(T0), mode="paper")


def _step(daemon: SimpleNamespace) -> DecisionStep:
    instruments = {SYMBOL: Instrument(SYMBOL, "0.01", "1", min_notional="1")}
    return DecisionStep.from_config(daemon.config, daemon.clock, instruments, {"run_id": "r"})


@pytest.mark.parametrize(
    ("profile", "max_leverage"), [("conservative", 20.0), ("aggressive", 80.0)]
)
def test_open_intake_reads_runtime_inbox_and_clamps_to_the_profiles_governor(
    tmp_path: Path, profile: str, max_leverage: float
) -> None:
    daemon = _daemon(tmp_path, profile)
    step = _step(daemon)
    records = RotatingJsonl(tmp_path / "runtime" / "decisions.jsonl", daemon.clock)
    intake = open_intake(
        daemon.config, mode=daemon.mode, clock=daemon.clock, step=step, records=records
    )
    assert intake is not None and intake.external is step.risk.external

    directory = tmp_path / "runtime" / "inbox"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700  # only its owner may drop intents
    (directory / "model.jsonl").write_bytes(
        intent_line(schema_version="1.1", ai_leverage=500) + b"\n"
    )
    intake.take()
    records.close()

    [record] = [
        orjson.loads(x)
        for x in (tmp_path / "runtime" / "decisions.jsonl").read_bytes().splitlines()
    ]
    assert record["event"] == "INTENT_ACCEPTED"
    assert record["intent"]["ai_leverage"] == max_leverage
    assert record["clamps"][0]["max"] == max_leverage


def test_each_execution_mode_reads_the_inbox_on_its_own(tmp_path: Path) -> None:
    # A shadow run beside (or before) a paper run must not use up the paper run's intents.
    taken: dict[str, int] = {}
    for mode in ("shadow", "paper", "paper"):
        daemon = _daemon(tmp_path, "conservative")
        daemon.mode = mode
        records = RotatingJsonl(tmp_path / f"{mode}.jsonl", daemon.clock)
        intake = open_intake(
            daemon.config, mode=daemon.mode, clock=daemon.clock, step=_step(daemon), records=records
        )
        assert intake is not None
        if not taken:
            (tmp_path / "runtime" / "inbox" / "model.jsonl").write_bytes(intent_line() + b"\n")
        taken[mode] = taken.get(mode, 0) + intake.take()
        records.close()
    # shadow took the line once; paper took it once, and its restart did not take it again
    assert taken == {"shadow": 1, "paper": 1}
    names = sorted(p.name for p in (tmp_path / "runtime" / "inbox").iterdir())
    assert names == [".offsets-paper.json", ".offsets-shadow.json", "model.jsonl"]


def test_open_intake_keeps_the_ids_taken_per_mode_under_state_owner_only(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path, "conservative")
    records = RotatingJsonl(tmp_path / "records.jsonl", daemon.clock)
    intake = open_intake(
        daemon.config, mode=daemon.mode, clock=daemon.clock, step=_step(daemon), records=records
    )
    assert intake is not None
    (tmp_path / "runtime" / "inbox" / "model.jsonl").write_bytes(
        intent_line(intent_id="m-1") + b"\n"
    )
    intake.take()
    records.close()
    ids = tmp_path / "state" / "intent_ids-paper.jsonl"
    assert [orjson.loads(x)["id"] for x in ids.read_bytes().splitlines()] == ["m-1"]
    assert stat.S_IMODE(ids.stat().st_mode) == 0o600


def test_open_intake_gives_no_task_when_the_inbox_is_disabled(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path, "conservative", QUANTBOT__INBOX__ENABLED="false")
    step = _step(daemon)
    assert step.risk.external is None  # no sleeve either: nothing could feed it
    records = RotatingJsonl(tmp_path / "runtime" / "decisions.jsonl", daemon.clock)

    assert (
        open_intake(daemon.config, mode=daemon.mode, clock=daemon.clock, step=step, records=records)
        is None
    )
    assert not (tmp_path / "runtime" / "inbox").exists()
