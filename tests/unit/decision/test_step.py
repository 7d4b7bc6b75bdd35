"""The decision step as the daemon and replay use it: bars in, an intent (or the reason there
is none) and a record that explains it out."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import attrs
import orjson
import pytest

from quantbot.clock import NS_PER_S, SimClock, iso_utc
from quantbot.config.schema import Config, load_config
from quantbot.decision.step import Decision, DecisionStep, Outcome, PortfolioView
from quantbot.domain.ids import client_order_id, decision_id
from quantbot.domain.reasons import ReasonCode, reason
from quantbot.domain.values import Bar, Instrument, OrderType, Side

D = Decimal
T0 = 1_763_726_400 * NS_PER_S  # 2025-11-21T12:00:00Z
BAR_S = 60
SYMBOL = "SIMA"
# A fast trend sleeve (ready after 8 bars) that alone sets the target: the mean-reversion
# sleeve still runs and is recorded, with weight 0 in the conservative profile.
ENV = {
    "QUANTBOT__SIGNALS__TREND__FAST": "3",
    "QUANTBOT__SIGNALS__TREND__SLOW": "8",
    "QUANTBOT__REGIME_COMPONENTS__CONSERVATIVE__MEAN_REVERSION": "0",
    # The conservative sizing as it was before issue 19 (0.5 since): sizes below the
    # profile's $5,000 cap (0.5 reaches it on this strong trend), so the stages these tests
    # look at are the ones that shape the order.
    "QUANTBOT__PROFILES__CONSERVATIVE__EQUITY_FRACTION": "0.05",
}
WARMUP = 7  # bars answered SIGNAL_WARMUP; the 8th is the first the trend sleeve reads
BASE = {"run_id": "run-1", "config_hash": "abc123", "execution_mode": "paper"}
EQUITY = 100_000.0


class Market:
    """A strong, slightly noisy uptrend, one bar a minute; the clock sits at each bar's close."""

    def __init__(self, clock: SimClock, start: float = 100.0) -> None:
        self.clock = clock
        self.close = start
        self.i = 0

    def next_ts(self) -> int:
        return T0 + self.i * BAR_S * NS_PER_S

    def bar(self, volume: float = 1_000_000.0) -> Bar:
        ts = self.next_ts()
        open_ = self.close
        close = round(open_ * 1.01 * (1 + 0.002 * math.sin(self.i * 1.7)), 4)
        self.close = close
        self.i += 1
        self.clock.set(ts + BAR_S * NS_PER_S)
        return Bar(SYMBOL, ts, open_, max(open_, close), min(open_, close), close, volume, BAR_S)

    def raw(self, **fields: Any) -> Bar:
        """A hand-made bar at the next time slot (fields override a flat bar at the close)."""
        ts = self.next_ts()
        self.i += 1
        self.clock.set(ts + BAR_S * NS_PER_S)
        c = self.close
        values: dict[str, Any] = {
            "symbol": SYMBOL,
            "ts_ns": ts,
            "open": c,
            "high": c,
            "low": c,
            "close": c,
            "volume": 1_000_000.0,
            "interval_s": BAR_S,
        }
        values.update(fields)
        return Bar(**values)


def make(
    env: dict[str, str] | None = None,
    profile: str | None = None,
    config: Config | None = None,
    instrument: Instrument | None = None,
) -> tuple[DecisionStep, Market]:
    if config is None:
        config = load_config(None, environ=ENV if env is None else env, trading_profile=profile)
        config = config.config
    clock = SimClock(T0)
    instruments = {SYMBOL: instrument or Instrument(SYMBOL, "0.01", "1", min_notional="1")}
    return DecisionStep.from_config(config, clock, instruments, dict(BASE)), Market(clock)


def view(**overrides: Any) -> PortfolioView:
    fields: dict[str, Any] = {"equity": EQUITY, "positions": {}, "pending": {}}
    fields.update(overrides)
    return PortfolioView(**fields)


def decide(
    step: DecisionStep, bar: Bar, view: PortfolioView, outcome: Outcome = Outcome.SENT
) -> Decision:
    """One decision, told its outcome as the pipeline tells it (by default: the order went)."""
    decision = step.step(bar, view)
    if decision.intent is not None:
        step.settle(decision, outcome)
    return decision


def warm_up(step: DecisionStep, market: Market, volume: float = 1_000_000.0) -> list[Decision]:
    return [decide(step, market.bar(volume=volume), view()) for _ in range(WARMUP)]


def code(decision: Decision) -> str | None:
    return decision.record["reason"]["code"] if decision.record["reason"] else None


# -- warm-up and bad data -----------------------------------------------------------------------


def test_warm_up_bars_give_signal_warmup_and_no_intent() -> None:
    step, market = make()
    for decision in warm_up(step, market):
        assert decision.intent is None
        assert decision.record["reason"] == {"code": "SIGNAL_WARMUP", "symbol": SYMBOL}
        assert decision.record["sleeves"]["trend"] == {
            "target": 0.0,
            "confidence": 0.0,
            "ready": False,
        }
        assert "net" not in decision.record
        # every stage is named, with the step ending before it reached it
        for stage in ("sizer", "limits", "policy", "governor", "daily_risk"):
            assert decision.record[stage] == {"verdict": "not_reached"}


BAD_BARS = [
    ({"high": 90.0, "low": 95.0}, ReasonCode.DATA_OHLC_INCONSISTENT),
    ({"close": math.nan}, ReasonCode.DATA_NON_FINITE),
    ({"volume": math.inf}, ReasonCode.DATA_NON_FINITE),
    ({"low": 0.0}, ReasonCode.DATA_NON_POSITIVE),
    ({"volume": -1.0}, ReasonCode.DATA_NON_POSITIVE),
    ({"ts_ns": T0}, ReasonCode.DATA_TIMESTAMP_NOT_INCREASING),
    ({"ts_ns": T0 - 3600 * NS_PER_S}, ReasonCode.DATA_TIMESTAMP_NOT_INCREASING),
]


@pytest.mark.parametrize(("fields", "expected"), BAD_BARS)
def test_bad_bar_gives_its_data_code_and_no_intent(
    fields: dict[str, Any], expected: ReasonCode
) -> None:
    step, market = make()
    warm_up(step, market)
    bad = market.raw(**{"open": market.close * 1.01, "close": market.close * 1.02,
                        "high": market.close * 1.02, **fields})  # fmt: skip

    decision = decide(step, bad, view())

    assert decision.intent is None
    assert code(decision) == expected.value
    assert decision.record["reason"]["symbol"] == SYMBOL
    assert "sleeves" not in decision.record  # it never reached the signals, let alone sizing
    # The next good bar, with the trend now ready, trades as if the bad one never came.
    assert decide(step, market.bar(), view()).intent is not None


def test_stale_bar_is_dropped() -> None:
    step, market = make()
    warm_up(step, market)
    bar = market.bar()
    market.clock.advance(60)  # the bar arrives a minute after it closed (limit: 10 s)
    decision = decide(step, bar, view())
    assert decision.intent is None
    assert code(decision) == "DATA_STALE"
    assert decision.record["reason"]["age_s"] == 60.0


def test_price_jump_is_dropped_and_restarts_the_warm_up() -> None:
    step, market = make()
    warm_up(step, market)
    market.close *= 2  # an unadjusted 1:2 split
    jump = decide(step, market.bar(), view())
    assert code(jump) == "DATA_PRICE_JUMP"
    assert jump.intent is None
    after = decide(step, market.bar(), view())
    assert code(after) == "SIGNAL_WARMUP"  # the indicators do not straddle the split


# -- the intent ---------------------------------------------------------------------------------


def run_to_trigger(
    env: dict[str, str] | None = None, outcome: Outcome = Outcome.SENT, **view_fields: Any
) -> tuple[Decision, Bar, DecisionStep, Market]:
    step, market = make(env, instrument=view_fields.pop("instrument", None))
    volume = view_fields.pop("volume", 1_000_000.0)
    # The participation cap is a share of the rolling bar volume: warm up at the same volume.
    warm_up(step, market, volume)
    bar = market.bar(volume=volume)
    return decide(step, bar, view(**view_fields), outcome), bar, step, market


def test_strong_uptrend_after_warm_up_gives_a_buy_with_a_deterministic_id() -> None:
    decision, bar, _, _ = run_to_trigger()

    intent = decision.intent
    assert intent is not None
    assert code(decision) is None
    did = decision_id(SYMBOL, bar.ts_ns)
    assert intent.decision_id == did
    assert intent.client_order_id == client_order_id("quantbot", did)
    assert (intent.side, intent.order_type, intent.symbol) == (Side.BUY, OrderType.MARKET, SYMBOL)
    assert intent.qty == D(decision.record["position"]["delta_qty"]) > 0
    assert intent.bar_ts_ns == bar.ts_ns
    assert intent.arrival_price == Instrument(SYMBOL, "0.01", "1").round_price(bar.close)

    again, _, _, _ = run_to_trigger()  # a fresh step (a restart, a replay) on the same bars
    assert again.intent == intent
    assert again.record == decision.record
    assert orjson.dumps(again.record) == orjson.dumps(decision.record)


def test_another_namespace_gives_another_client_id() -> None:
    decision, _, _, _ = run_to_trigger()
    other, _, _, _ = run_to_trigger({**ENV, "QUANTBOT__RUN__CLIENT_ID_NAMESPACE": "acct-2"})
    assert decision.intent is not None and other.intent is not None
    assert other.intent.client_order_id != decision.intent.client_order_id
    assert other.intent.qty == decision.intent.qty


def test_record_carries_every_stage() -> None:
    decision, bar, _, _ = run_to_trigger()
    record = decision.record
    intent = decision.intent
    assert intent is not None

    assert record["ts"] == iso_utc(bar.ts_ns + BAR_S * NS_PER_S)
    assert {k: record[k] for k in BASE} == BASE
    assert record["decision_id"] == intent.decision_id
    assert record["bar_ts"] == iso_utc(bar.ts_ns)
    assert record["symbol"] == SYMBOL
    assert record["bar"] == {"o": bar.open, "h": bar.high, "l": bar.low, "c": bar.close,
                             "v": bar.volume}  # fmt: skip
    # the inbox's sleeve is there, not ready (no intent), so it does not dilute the others
    assert set(record["sleeves"]) == {"trend", "mean_reversion", "external"}
    assert record["sleeves"]["external"]["ready"] is False
    trend = record["sleeves"]["trend"]
    assert trend["ready"] is True and trend["target"] > 0.5
    assert record["sleeves"]["mean_reversion"]["ready"] is False
    net = record["net"]
    assert set(net) == {
        "target",
        "confidence",
        "contributions",
        "previous_target",
        "deadband",
        "catching_up",
    }
    assert net["previous_target"] == 0.0 and net["deadband"] == 0.2
    assert net["contributions"] == {
        "trend": net["target"],
        "mean_reversion": 0.0,
        "external": 0.0,
    }
    sizer = record["sizer"]
    assert sizer["equity"] == EQUITY and sizer["capped"] is False
    # target * confidence * equity * equity_fraction (conservative: 0.05)
    assert sizer["raw_notional_usd"] == pytest.approx(
        net["target"] * net["confidence"] * EQUITY * 0.05, rel=1e-5
    )
    expected_qty = int(sizer["target_notional_usd"] / bar.close)
    assert record["position"] == {
        "qty": "0",
        "pending": "0",
        "target_qty": str(expected_qty),
        "delta_qty": str(expected_qty),
    }
    assert record["intent"] == {
        "client_order_id": intent.client_order_id,
        "side": "BUY",
        "qty": str(expected_qty),
        "order_type": "MARKET",
        "reducing": False,
        # The exits its fill will carry (oms/exits): the harvest preset the sizer chose.
        "family": "BRACKET",
        "exits": {
            "policy": "TREND_RUNNER",
            "stop_loss_pct": 0.02,
            "take_profit_pct": 0.08,
            "trailing_stop_pct": 0.03,
            "max_hold_bars": 5000,
        },
    }
    assert record["arrival_price"] == str(intent.arrival_price)
    assert record["clamps"] == []
    assert record["reason"] is None
    # shadow AI sizer: its proposal sits beside the size used, which is the base size
    assert sizer["mode"] == "shadow" and sizer["used"] == "base"
    assert sizer["ai"]["harvest_policy"] in ("SCALPER", "SWING", "TREND_RUNNER")
    assert record["limits"]["target_notional_usd"] == pytest.approx(sizer["target_notional_usd"])
    assert record["policy"]["code"] == "ALLOW_NEW_ENTRY"
    assert record["governor"]["code"] == "GOVERNOR_APPROVED"
    assert record["daily_risk"] == {"verdict": "not_reached"}  # the pipeline's, before submit
    assert decision.entry is not None and decision.entry.sleeve == "trend"
    orjson.dumps(record)  # plain JSON: no default= needed to write it


def test_the_next_bar_inside_the_deadband_does_not_trade_again() -> None:
    decision, _, step, market = run_to_trigger()
    assert decision.intent is not None
    nxt = decide(step, market.bar(), view(positions={SYMBOL: decision.intent.qty}))
    assert nxt.intent is None
    assert code(nxt) == "NETTING_DEADBAND"


# -- blocks and clamps --------------------------------------------------------------------------


def test_pending_order_blocks_a_new_one() -> None:
    decision, _, _, _ = run_to_trigger(pending={SYMBOL: D(5)})
    assert decision.intent is None
    assert decision.record["reason"] == {"code": "ORDER_WORKING_BLOCK", "pending": "5"}
    assert decision.record["position"]["pending"] == "5"


def test_blocked_by_gives_that_reason_and_no_intent() -> None:
    kill = reason(ReasonCode.KILL_SWITCH_ACTIVE, reason="operator")
    decision, _, step, market = run_to_trigger(blocked_by=kill)
    assert decision.intent is None
    assert decision.record["reason"] == {"code": "KILL_SWITCH_ACTIVE", "reason": "operator"}
    assert "intent" in decision.record and decision.record["intent"] is None
    # Nothing was sent, so once resumed the same target still trades.
    assert decide(step, market.bar(), view()).intent is not None


def test_kill_switch_still_lets_a_position_shrink() -> None:
    kill = reason(ReasonCode.KILL_SWITCH_ACTIVE, reason="operator")
    # Long far above the uptrend's target: the step wants to sell down, which reduces risk.
    decision, _, _, _ = run_to_trigger(blocked_by=kill, positions={SYMBOL: D(1000)})
    assert decision.intent is not None and decision.intent.side is Side.SELL
    assert code(decision) is None


def test_a_halt_blocks_new_risk_but_lets_a_position_shrink() -> None:
    halt = reason(ReasonCode.HALT_ACTIVE, halt_code="HALT_PROGRAMMING_ERROR")
    opening, _, _, _ = run_to_trigger(blocked_by=halt)
    assert opening.intent is None
    assert code(opening) == "HALT_ACTIVE"
    reducing, _, _, _ = run_to_trigger(blocked_by=halt, positions={SYMBOL: D(1000)})
    assert reducing.intent is not None and reducing.intent.side is Side.SELL


def test_shutdown_sends_nothing_new_even_to_reduce() -> None:
    stopping = reason(ReasonCode.SHUTDOWN_IN_PROGRESS)
    decision, _, _, _ = run_to_trigger(blocked_by=stopping, positions={SYMBOL: D(1000)})
    assert decision.intent is None
    assert code(decision) == "SHUTDOWN_IN_PROGRESS"


def test_the_block_is_named_before_any_other_reason() -> None:
    kill = reason(ReasonCode.KILL_SWITCH_ACTIVE, reason="operator")
    decision, _, _, _ = run_to_trigger(blocked_by=kill, pending={SYMBOL: D(5)}, volume=1.0)
    assert code(decision) == "KILL_SWITCH_ACTIVE"


def test_thin_volume_blocks_a_new_position() -> None:
    decision, _, _, _ = run_to_trigger(volume=100.0)
    assert decision.intent is None
    reason_ = decision.record["reason"]
    assert reason_["code"] == "LIQUIDITY_THIN_BLOCK" and reason_["volume"] == 100.0
    # 100 units of a ~$100 market: about $10,000, under the conservative $50,000
    assert reason_["min_bar_notional"] == 50_000.0 and reason_["notional"] < 50_000.0


def test_participation_clamp_is_recorded_and_applied() -> None:
    decision, _, _, _ = run_to_trigger(volume=1_000.0)  # 2% of 1000 = 20 shares
    intent = decision.intent
    assert intent is not None
    wanted = decision.record["position"]["delta_qty"]
    assert int(wanted) > 20
    assert decision.record["clamps"] == [
        {"code": "LIQUIDITY_PARTICIPATION_CLAMP", "wanted": wanted, "cap": "20"}
    ]
    assert intent.qty == D(20)
    assert decision.record["intent"]["qty"] == "20"


def test_reducing_order_is_not_blocked_by_thin_volume_but_is_clamped() -> None:
    decision, _, _, _ = run_to_trigger(volume=100.0, positions={SYMBOL: D(1000)})
    intent = decision.intent
    assert intent is not None
    assert intent.side is Side.SELL
    assert intent.qty == D(2)  # 2% of 100
    assert decision.record["clamps"][0]["code"] == "LIQUIDITY_PARTICIPATION_CLAMP"
    assert D(decision.record["position"]["delta_qty"]) < -900


def test_sizer_cap_is_recorded_as_a_clamp() -> None:
    env = {**ENV, "QUANTBOT__PROFILES__CONSERVATIVE__MAX_POSITION_USD": "1000"}
    decision, bar, _, _ = run_to_trigger(env)
    assert decision.intent is not None
    assert decision.record["sizer"]["capped"] is True
    assert decision.record["sizer"]["target_notional_usd"] == 1000.0
    (cap,) = decision.record["clamps"]
    assert cap["code"] == "SIZER_POSITION_CAP"
    assert cap["raw"] == decision.record["sizer"]["raw_notional_usd"] > 1000
    assert decision.intent.qty == D(int(1000 / bar.close))


def test_the_profile_picks_the_liquidity_thresholds() -> None:
    balanced = {
        **{k: v for k, v in ENV.items() if "REGIME" not in k},
        "QUANTBOT__REGIME_COMPONENTS__BALANCED__MEAN_REVERSION": "0",
        "QUANTBOT__RUN__TRADING_PROFILE": "balanced",
    }
    # 300 is thin for conservative (500) but enough for balanced (200).
    conservative, _, _, _ = run_to_trigger(volume=300.0)
    chosen, _, _, _ = run_to_trigger(balanced, volume=300.0)
    assert code(conservative) == "LIQUIDITY_THIN_BLOCK"
    assert chosen.intent is not None
    assert chosen.record["clamps"][0]["cap"] == "15"  # balanced: 5% of 300


def test_from_config_reads_the_profile_from_an_evolved_config() -> None:
    base = load_config(None, environ=ENV).config
    config = attrs.evolve(
        base,
        liquidity=attrs.evolve(
            base.liquidity,
            conservative=attrs.evolve(base.liquidity.conservative, min_bar_volume=2e6),
        ),
    )
    step, market = make(config=config)
    warm_up(step, market)
    decision = decide(step, market.bar(), view())
    assert decision.record["reason"]["min_bar_volume"] == 2e6


def test_a_clamped_order_leaves_the_rest_of_the_target_for_the_next_bars() -> None:
    first, _, step, market = run_to_trigger(volume=1_000.0)
    assert first.intent is not None and first.intent.qty == D(20)

    # The 20 filled; the target has not moved, so the deadband must not freeze the position
    # at the clamped size: the rest is ordered on the next bar.
    second = decide(step, market.bar(), view(positions={SYMBOL: D(20)}))
    assert second.intent is not None, second.record["reason"]
    assert second.intent.side is Side.BUY
    target_qty = D(second.record["position"]["target_qty"])
    assert second.intent.qty == target_qty - 20
    assert second.record["net"]["catching_up"] is True  # why it traded inside the deadband

    third = decide(step, market.bar(), view(positions={SYMBOL: target_qty}))
    assert third.intent is None
    assert code(third) == "NETTING_DEADBAND"
    assert third.record["net"]["catching_up"] is False


def test_a_clamped_reduction_keeps_reducing_on_thin_bars() -> None:
    first, _, step, market = run_to_trigger(volume=100.0, positions={SYMBOL: D(1000)})
    assert first.intent is not None and first.intent.qty == D(2)
    second = decide(step, market.bar(volume=100.0), view(positions={SYMBOL: D(998)}))
    assert second.intent is not None, second.record["reason"]
    assert (second.intent.side, second.intent.qty) == (Side.SELL, D(2))


def test_an_intent_the_oms_did_not_send_is_tried_again_next_bar() -> None:
    decision, _, step, market = run_to_trigger()
    assert decision.intent is not None
    follow_up = decide(step, market.bar(), view())
    assert code(follow_up) == "NETTING_DEADBAND"  # as if the first order had gone out

    decision, _, step, market = run_to_trigger(outcome=Outcome.REFUSED)  # a gate blocked it
    retry = decide(step, market.bar(), view())
    assert retry.intent is not None
    assert retry.intent.client_order_id != decision.intent.client_order_id  # a new decision


def test_reduce_only_lets_a_position_shrink_and_blocks_new_risk() -> None:
    only = reason(ReasonCode.REDUCE_ONLY_ACTIVE, reason="reconcile mismatch")
    opening, _, _, _ = run_to_trigger(blocked_by=only)
    assert code(opening) == "REDUCE_ONLY_ACTIVE"
    reducing, _, _, _ = run_to_trigger(blocked_by=only, positions={SYMBOL: D(1000)})
    assert reducing.intent is not None and reducing.intent.side is Side.SELL


def test_less_than_a_lot_is_not_ordered() -> None:
    decision, _, _, _ = run_to_trigger(instrument=Instrument(SYMBOL, "0.01", "100000"))
    assert decision.intent is None
    assert code(decision) == "SIZE_BELOW_LOT"
    assert decision.record["reason"]["lot_size"] == "100000"


def test_an_order_below_the_minimum_notional_is_not_ordered() -> None:
    decision, _, _, _ = run_to_trigger(
        instrument=Instrument(SYMBOL, "0.01", "1", min_notional="1000000")
    )
    assert decision.intent is None
    assert code(decision) == "SIZE_BELOW_MIN_NOTIONAL"
    assert decision.record["reason"]["min_notional"] == "1000000"


# -- exits: the stop really placed, the stop lock, the entry's order type -----------------------


def test_the_entrys_risk_is_its_stop_placed_and_the_whole_notional_when_none_is() -> None:
    with_stop, *_ = run_to_trigger()
    entry = with_stop.entry
    assert entry is not None and entry.exits is not None
    assert entry.risk_usd == pytest.approx(entry.notional_usd * entry.exits.stop_loss_pct)
    no_exits, *_ = run_to_trigger({**ENV, "QUANTBOT__ORDERS__EXITS": "false"})
    bare = no_exits.entry
    assert bare is not None and bare.exits is None
    assert bare.risk_usd == pytest.approx(bare.notional_usd)  # no stop: all of it is at risk
    assert "exits" not in no_exits.record["intent"]


def test_a_stopped_out_long_is_not_re_entered_inside_its_lock() -> None:
    step, market = make()
    warm_up(step, market)
    bar = market.bar()
    locked = view(locks={SYMBOL: {"BUY": bar.ts_ns + 1}})
    decision = decide(step, bar, locked)
    assert decision.intent is None and code(decision) == "EXIT_STOP_LOCK"
    assert decision.record["reason"]["until_ns"] == bar.ts_ns + 1
    later = decide(step, market.bar(), locked)  # the lock has ended
    assert later.intent is not None and later.intent.side is Side.BUY


def test_a_calm_market_can_enter_with_a_limit_inside_the_close() -> None:
    env = {**ENV, **{f"QUANTBOT__ORDERS__CONSERVATIVE__ENTRY_TYPE__{r}": "LIMIT"
                     for r in ("LOW", "NORMAL", "HIGH")}}  # fmt: skip
    decision, bar, _, _ = run_to_trigger(env)
    intent = decision.intent
    assert intent is not None and intent.order_type is OrderType.LIMIT
    expected = Instrument(SYMBOL, "0.01", "1").round_price(bar.close * (1 - 5 / 10_000))
    assert intent.limit_price is not None and abs(intent.limit_price - expected) <= D("0.01")
    assert intent.limit_price < D(str(bar.close))
    assert decision.record["intent"]["limit_price"] == str(intent.limit_price)
