"""A replay's play loop: the summary's equity curve is the account's equity after each batch.

The batch's own equity read is reused for the curve when no fill came after it; a market order
the ``close`` fill model fills at its decision bar's close (fee paid) comes after it, and the
curve must show that bar's equity after the fee, not before it.
"""

from __future__ import annotations

from pathlib import Path

from bench import replay_bench as rb
from bench import strategies as st
from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.loader import to_plain
from quantbot.config.schema import LoadedConfig, config_hash
from quantbot.domain.values import Bar
from quantbot.research.replay import play, replay_daemon, start
from quantbot.research.summary import ReplayTally

BARS = 300


async def test_the_equity_curve_shows_a_fill_at_the_decision_bars_close(
    repo_root: Path, tmp_path: Path
) -> None:
    config, _, _ = rb.bench_config(repo_root / "config.toml")
    config = st.apply_overrides(config, {"venue.sim.fill_model": "close", "venue.sim.fee_bps": 5.0})
    (symbol,) = config.market.symbols
    data = tmp_path / "bars.f64"
    rb.write_bars(data, BARS, symbol, seed=7)
    opens, highs, lows, closes, volumes = rb.read_columns(data, BARS)
    interval_ns = 60 * NS_PER_S
    clock = SimClock(rb.START_NS + interval_ns)
    loaded = LoadedConfig(config, None, {}, config_hash(to_plain(config)))
    daemon = replay_daemon(loaded, tmp_path / "out", [symbol], "play", clock)
    tally = ReplayTally()
    await start(daemon, tally)
    assert daemon.parts is not None
    embedded = daemon.parts.venue.embedded
    assert embedded is not None
    after: list[float] = []  # the account's equity after each batch, read by the test
    try:
        for i in range(BARS):
            ts = rb.START_NS + i * interval_ns
            bar = Bar(symbol, ts, opens[i], highs[i], lows[i], closes[i], volumes[i], 60)
            await play(daemon, clock, [bar], ts + interval_ns, tally)
            after.append(float(embedded.equity()))
        fills = await daemon.parts.venue.fills_since(0)
    finally:
        await daemon.close()
    assert fills, "the workload trades"
    assert all(f.fee > 0 for f in fills)
    assert list(tally.equity) == after
