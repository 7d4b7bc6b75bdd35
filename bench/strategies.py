"""The replay benchmark's strategy, three times: in quantbot, backtrader and backtesting.py.

One strategy, spelled identically everywhere: EMA(fast) and EMA(slow) of close, both seeded
with the first close and updated ``ema += alpha * (close - ema)`` (``alpha = 2 / (span + 1)``),
ready from the ``slow``-th bar; then one unit long while fast > slow, one unit short while
fast < slow (flat on an exact tie), decided on a bar's close, filled by a market order at the
next bar's open, no commission. Each runner reports its executions as ``(bar index, signed
quantity)`` pairs, so the benchmark checks that the engines traded the same way, not only
equally often.

quantbot runs it as the built-in ``ema_sar`` sleeve, declared in the config as a user would
(``[signals.ema_sar]``, weight 1 in every profile), with a one-unit sizer, through the
pipeline a replay builds, every stage on, with the ``overrides`` that leave the sleeve the
only thing deciding.
backtrader's built-in EMA seeds with an SMA and would trade differently in the first few
hundred bars, so it gets an indicator with the seed above (vectorised in ``once`` like the
built-in); backtesting.py gets pandas' ``ewm(adjust=False)``, the same recurrence.
"""

from __future__ import annotations

import math
import tempfile
import time
import warnings
from array import array
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import orjson

from quantbot.domain.errors import InvariantViolation
from quantbot.portfolio.netting import NetTarget
from quantbot.sizing.base import SizerOutput

if TYPE_CHECKING:
    from quantbot.config.schema import Config

FAST = 10
SLOW = 30
INITIAL_CASH = 100_000.0
# The only sleeve, under its own name: its target is the net target.
SLEEVE_NAME = "ema_sar"
ENGINES = ("backtrader", "backtesting")
_BIG = 1e12  # a limit that never binds
_MANY = 1_000_000  # a count that never binds


def overrides(profile: str, symbol: str, *, deadband_zero: bool = False) -> dict[str, Any]:
    """Config changes (dotted key -> value) that leave the sleeve the only thing deciding.

    Every gate and stage still runs and records its verdict; none can bind. ``profile`` is
    the active trading profile, whose tables are the ones overridden. The profile's deadband
    is kept (the config as shipped): a flip of this sleeve's target trades at any deadband,
    and a bar whose target did not change stops at netting. ``deadband_zero`` sets it to 0,
    which sends every bar through the whole chain (sizer, limits, entry rules, liquidity),
    the worst case per bar, with the same trades.
    """
    from quantbot.config.schema import PROFILES

    p = profile
    unbounded = dict.fromkeys(("max_daily_loss_usd", "max_daily_exposure_usd"), _BIG)
    unbounded["max_open_risk_usd"] = _BIG
    changes: dict[str, Any] = {
        # The sleeves that run: this one alone (the tables replace the config's).
        "signals": {SLEEVE_NAME: {"kind": "ema_sar", "fast": FAST, "slow": SLOW}},
        "regime_components": {name: {SLEEVE_NAME: 1.0} for name in PROFILES},
        # What a replay does: one symbol, no outside intents, one records file.
        "market.symbols": [symbol],
        "inbox.enabled": False,
        "records.rotate_daily": False,
        # The reference engines place no protective exits: neither does quantbot here
        # (its exit stage still runs every bar; it has nothing to protect).
        "orders.exits": False,
        # The base size is used (the AI sizer's proposal is recorded beside it).
        "sizer.mode": "shadow",
        # Fills like the reference engines: whole order at the next open, no costs.
        "venue.sim.fee_bps": 0.0,
        "venue.sim.slippage_bps": 0.0,
        "venue.sim.participation_cap": 1.0,
        "venue.sim.fill_model": "next_open",
        "venue.sim.proxy_spread_bps": 0.0,
        "venue.sim.slippage_model": "fixed",  # no market-scaled slippage either
        f"liquidity.{p}.min_bar_volume": 0.0,
        f"liquidity.{p}.min_bar_notional": 0.0,
        f"liquidity.{p}.max_participation": 1.0,
        # Portfolio limits: no volatility scaling, no caps.
        f"limits.{p}.vol_min_scale": 1.0,
        f"limits.{p}.vol_max_scale": 1.0,
        f"limits.{p}.max_symbol_pct": _BIG,
        f"limits.{p}.max_cluster_pct": _BIG,
        f"limits.{p}.max_corr_group_pct": _BIG,
        # Execution policy: no floors, no cooldowns, no counts or exposure caps that bind.
        f"policy.{p}.confidence_floor": 0.0,
        f"policy.{p}.global_cooldown_s": 0.0,
        f"policy.{p}.symbol_cooldown_s": 0.0,
        f"policy.{p}.max_total_positions": _MANY,
        f"policy.{p}.max_total_exposure_pct": _BIG,
        f"policy.{p}.max_symbol_exposure_pct": _BIG,
        f"policy.{p}.max_positions_per_symbol": _MANY,
        f"policy.{p}.max_positions_per_regime": dict.fromkeys(("low", "normal", "high"), _MANY),
        f"policy.{p}.min_order_usd": 0.0,
        # Risk governor and daily guard: limits far above one unit.
        f"governor.{p}.min_order_usd": 0.0,
        f"governor.{p}.max_position_usd": _BIG,
        f"governor.{p}.max_notional_usd": _BIG,
        f"daily_risk.{p}.total": unbounded,
        f"daily_risk.{p}.per_sleeve": dict(unbounded),
        # Pre-trade gates: sizes, collars and message rates that never bind.
        "pretrade.max_order_usd": str(int(_BIG)),
        "pretrade.max_order_qty": str(int(_BIG)),
        "pretrade.collar_bps": _BIG,
        "pretrade.collar_window_bps": _BIG,
        "pretrade.max_orders_per_min": _MANY,
        "pretrade.max_orders_per_symbol_per_min": _MANY,
        "pretrade.max_executions": _MANY,
        # Quarantine: the stage runs and counts each scope's outcomes; every trigger is off (a
        # threshold of 0), so a losing streak of this strategy does not take it out of trading.
        "quarantine.min_trades": 0,
        "quarantine.max_stop_outs": 0,
        "quarantine.max_reject_rate": 0.0,
        "quarantine.max_breaker_opens": 0,
        "quarantine.max_cancel_loop_blocks": 0,
        # Turnover caps and the drawdown breaker: measured and recorded, never binding (a
        # turnover cap of 1x equity a day stops a one-unit flip at prices near 1,600).
        f"turnover.{p}.max_symbol_equity_x": _BIG,
        f"turnover.{p}.max_daily_equity_x": _BIG,
        f"drawdown.{p}.max_portfolio_drawdown_pct": 100.0,
        f"drawdown.{p}.max_sleeve_drawdown_pct": 100.0,
    }
    if deadband_zero:
        changes[f"profiles.{p}.deadband"] = 0.0
    return changes


def apply_overrides(config: Config, changes: dict[str, Any]) -> Config:
    """``config`` with each dotted key set, built and bounds-checked by the config loader like
    a value from the file (a bad value is a ``ConfigError`` naming the key)."""
    from quantbot.config import loader
    from quantbot.config.schema import Config

    merged = loader.merge(
        loader.to_plain(config), {tuple(k.split(".")): v for k, v in changes.items()}
    )
    return loader.build(Config, merged, lambda key: f"bench override {'.'.join(key)}")


@attrs.frozen(slots=True)
class UnitSizer:
    """A ``Sizer`` for fixed-quantity positions: the target notional is ``units`` at the
    latest admitted close, signed by the net target, so the step's ``notional / close`` is
    exactly ``units`` whole lots. ``price_of`` returns that close (the bench hands in the
    close of the bar being decided)."""

    units: float
    price_of: Callable[[], float | None]

    def target_notional(self, net: NetTarget, equity: float) -> SizerOutput:
        price = self.price_of()
        if price is None or not (math.isfinite(price) and price > 0.0):
            raise InvariantViolation(f"sizer=unit price={price!r}: no finite positive close")
        if not math.isfinite(net.target):
            raise InvariantViolation(f"sizer=unit target={net.target!r}: non-finite")
        sign = 1.0 if net.target > 0.0 else -1.0 if net.target < 0.0 else 0.0
        notional = sign * self.units * price
        detail = {"units": self.units, "price": price, "net_target": net.target}
        return SizerOutput(notional, notional, False, detail)


def missing_engines() -> dict[str, str]:
    """Reference engine -> why it cannot run here (not installed); empty when both can."""
    missing = {}
    for engine in ENGINES:
        try:
            __import__(engine)
        except ImportError as e:
            missing[engine] = f"{engine} is not installed ({e}); pip install -e '.[bench]'"
    return missing


def engine_version(engine: str) -> str:
    return str(getattr(__import__(engine), "__version__", "unknown"))


def _signal(fast: float, slow: float) -> int:
    return 1 if fast > slow else -1 if fast < slow else 0


# -- quantbot ---------------------------------------------------------------------------------


def _timed_step(step_ns: array) -> type:
    """``DecisionStep`` appending the duration of each ``step`` call (ns) to ``step_ns``."""
    from quantbot.decision.step import DecisionStep

    class TimedStep(DecisionStep):
        def step(self, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter_ns()
            decision = super().step(*args, **kwargs)
            step_ns.append(time.perf_counter_ns() - started)
            return decision

    return TimedStep


async def run_quantbot(
    config: Config,
    columns: list[array],
    *,
    start_ns: int,
    interval_s: int,
    profiler: Any = None,
    keep: Path | None = None,
    round_trip: bool = False,
) -> dict[str, Any]:
    """Replay ``columns`` (open, high, low, close, volume) as `quantbot replay` does.

    The daemon, its wiring and each batch's play are the replay's own
    (``research.replay``); the sleeve is the config's (``overrides``), only the decision
    step's sizer is the benchmark's.
    The timed loop builds each ``Bar`` from the columns and plays it; the summary and the
    report are written at the end, as a replay writes them. ``profiler`` (a
    ``cProfile.Profile``) is enabled around the loop only. Returns executions, counters and
    per-bar timings (ns) of ``step`` and of the whole batch (``play``). ``keep``: an empty
    directory the replay writes into and leaves (default: a temporary one, removed).
    ``round_trip``: also each batch's thread CPU (ns), orders accepted and fills, for
    ``bench.round_trip`` (``batch_cpu_ns``, ``sent``, ``filled``); off, the loop is as timed.
    """
    from bench.round_trip import BatchMeter
    from quantbot.clock import NS_PER_S, SimClock
    from quantbot.config.loader import to_plain
    from quantbot.config.schema import LoadedConfig, config_hash
    from quantbot.domain.values import Bar, Side
    from quantbot.research.replay import play, replay_daemon, start
    from quantbot.research.summary import ReplayTally, summarize

    (symbol,) = config.market.symbols
    interval_ns = interval_s * NS_PER_S
    clock = SimClock(start_ns + interval_ns)
    step_ns, batch_ns = array("q"), array("q")
    opens, highs, lows, closes, volumes = columns
    last_close = [math.nan]  # the close of the bar being decided, for the unit sizer
    make_step = partial(
        _timed_step(step_ns).from_config, sizer=UnitSizer(1.0, lambda: last_close[0])
    )
    loaded = LoadedConfig(config, None, {}, config_hash(to_plain(config)))
    perf = time.perf_counter_ns
    with tempfile.TemporaryDirectory(prefix="quantbot-replay-bench-") as tmp:
        out = Path(tmp) if keep is None else keep
        daemon = replay_daemon(loaded, out, [symbol], "bench", clock, decision_step=make_step)
        tally = ReplayTally()
        await start(daemon, tally)
        assert daemon.parts is not None
        # The records writer, read after close (its count outlives the daemon's handle).
        pipeline, written = daemon.parts.pipeline, daemon.parts.services.records
        meter = BatchMeter(pipeline.counters) if round_trip else None
        try:
            if profiler is not None:
                profiler.enable()
            for i in range(len(closes)):
                ts = start_ns + i * interval_ns
                close = closes[i]
                bar = Bar(symbol, ts, opens[i], highs[i], lows[i], close, volumes[i], interval_s)
                last_close[0] = close
                if meter is not None:
                    meter.start()
                started = perf()
                await play(daemon, clock, [bar], ts + interval_ns, tally)
                batch_ns.append(perf() - started)
                if meter is not None:
                    meter.stop()
            if profiler is not None:
                profiler.disable()
            fills = await daemon.parts.venue.fills_since(0)
        finally:
            await daemon.close()
        summary = summarize("bench", out, tally, pipeline.counters.bars)
        if keep is not None:  # as a replay writes it (research/replay.py)
            (keep / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    executions = [
        ((f.ts_ns - start_ns) // interval_ns - 1, int(f.qty if f.side is Side.BUY else -f.qty))
        for f in fills
    ]
    counters = {**attrs.asdict(pipeline.counters), "records": written.records_written}
    return {
        "executions": executions,
        "final_position": sum(qty for _, qty in executions),
        "counters": counters,
        "step_ns": step_ns,
        "batch_ns": batch_ns,
        **(meter.columns() if meter is not None else {}),
    }


# -- backtrader -------------------------------------------------------------------------------


def run_backtrader(frame: Any, fast: int = FAST, slow: int = SLOW) -> dict[str, Any]:
    """Run the strategy on ``frame`` (OHLCV, DatetimeIndex) in backtrader; executions and the
    final position. Feed conversion and preloading count: they are part of a backtrader run."""
    import backtrader as bt

    class SeededEma(bt.Indicator):
        lines = ("ema",)
        params = (("span", FAST),)

        def __init__(self) -> None:
            self.alpha = 2.0 / (self.p.span + 1)

        def next(self) -> None:
            if len(self) == 1:
                self.lines.ema[0] = self.data[0]
            else:
                prev = self.lines.ema[-1]
                self.lines.ema[0] = prev + self.alpha * (self.data[0] - prev)

        def once(self, start: int, end: int) -> None:
            src, dst, alpha = self.data.array, self.lines.ema.array, self.alpha
            for i in range(start, end):
                if i == 0:
                    dst[0] = src[0]
                else:
                    prev = dst[i - 1]
                    dst[i] = prev + alpha * (src[i] - prev)

    class EmaSar(bt.Strategy):
        def __init__(self) -> None:
            self.fast = SeededEma(self.data.close, span=fast)
            self.slow = SeededEma(self.data.close, span=slow)
            self.held = 0
            self.executions: list[tuple[int, int]] = []

        def next(self) -> None:
            index = len(self) - 1
            size = int(self.position.size)
            if size != self.held:  # the previous bar's order filled at this bar's open
                self.executions.append((index, size - self.held))
                self.held = size
            if index + 1 < slow:
                return
            target = _signal(self.fast[0], self.slow[0])
            if target != size:
                self.order_target_size(target=target)

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(INITIAL_CASH)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.addstrategy(EmaSar)
    (strategy,) = cerebro.run()
    return {"executions": strategy.executions, "final_position": strategy.held}


# -- backtesting.py ---------------------------------------------------------------------------


def _ewm(values: Any, span: int) -> Any:
    import pandas as pd

    return pd.Series(values).ewm(span=span, adjust=False).mean().to_numpy()


def run_backtesting(frame: Any, fast: int = FAST, slow: int = SLOW) -> dict[str, Any]:
    """Run the strategy on ``frame`` in backtesting.py; executions and the final position.
    ``Backtest`` construction and its statistics at the end count: they are part of a run."""
    from backtesting import Backtest, Strategy

    class EmaSar(Strategy):
        def init(self) -> None:
            self.fast = self.I(_ewm, self.data.Close, fast, name="ema_fast")
            self.slow = self.I(_ewm, self.data.Close, slow, name="ema_slow")
            self.held = 0
            self.executions: list[tuple[int, int]] = []

        def next(self) -> None:
            index = len(self.data) - 1
            size = self.position.size
            if size != self.held:  # the previous bar's order filled at this bar's open
                self.executions.append((index, size - self.held))
                self.held = size
            if index + 1 < slow:
                return
            target = _signal(self.fast[-1], self.slow[-1])
            if target > size:
                self.buy(size=target - size)
            elif target < size:
                self.sell(size=size - target)

    with warnings.catch_warnings():
        # "trades remain open at the end": the last position is reported, not closed.
        warnings.simplefilter("ignore")
        backtest = Backtest(frame, EmaSar, cash=INITIAL_CASH, commission=0.0, spread=0.0)
        stats = backtest.run()
    strategy = stats["_strategy"]
    return {"executions": strategy.executions, "final_position": int(strategy.held)}


RUNNERS: dict[str, Callable[..., dict[str, Any]]] = {
    "backtrader": run_backtrader,
    "backtesting": run_backtesting,
}
