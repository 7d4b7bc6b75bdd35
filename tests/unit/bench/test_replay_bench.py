"""The replay benchmark on small workloads: what each engine traded, and the report it writes.

No timing assertions (the machine is shared): the checks are that quantbot trades exactly the
documented strategy, that the reference engines (when installed) trade it identically, and
that the report says so, or says why a comparison was skipped.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from bench import replay_bench as rb
from bench import strategies as st
from quantbot.domain.errors import ConfigError, InvariantViolation
from quantbot.portfolio.netting import NetTarget

BARS = 600


def reference_executions(closes: list[float], fast: int, slow: int) -> list[list[int]]:
    """The strategy by hand: decide on each close, fill the change at the next bar."""
    a_fast, a_slow = 2.0 / (fast + 1), 2.0 / (slow + 1)
    ema_fast = ema_slow = closes[0]
    held, pending, out = 0, 0, []
    for i, close in enumerate(closes):
        if pending:
            out.append([i, pending])
            held, pending = held + pending, 0
        if i:
            ema_fast += a_fast * (close - ema_fast)
            ema_slow += a_slow * (close - ema_slow)
        if i + 1 >= slow:
            target = 1 if ema_fast > ema_slow else -1 if ema_fast < ema_slow else 0
            pending = target - held
    return out


@pytest.fixture
def bars_file(repo_root: Path, tmp_path: Path) -> Path:
    path = tmp_path / "bars.f64"
    rb.write_bars(path, BARS, "SIMA", seed=7)
    return path


@pytest.fixture
def expected(bars_file: Path) -> list[list[int]]:
    closes = list(rb.read_columns(bars_file, BARS)[3])
    executions = reference_executions(closes, st.FAST, st.SLOW)
    assert len(executions) > 10  # the sample really trades both ways
    return executions


@pytest.mark.parametrize("deadband_zero", [False, True], ids=["shipped_deadband", "deadband_0"])
async def test_quantbot_trades_exactly_the_documented_strategy(
    repo_root: Path, bars_file: Path, expected: list[list[int]], deadband_zero: bool
) -> None:
    config, _, _ = rb.bench_config(repo_root / "config.toml", deadband_zero=deadband_zero)
    columns = rb.read_columns(bars_file, BARS)
    result = await st.run_quantbot(config, columns, start_ns=rb.START_NS, interval_s=rb.INTERVAL_S)
    assert [list(e) for e in result["executions"]] == expected
    assert result["final_position"] in (1, -1)
    counters = result["counters"]
    # one record per bar, and an ORDER_FILLED line per fill (its decision's fill summary)
    assert counters["bars"] == counters["decisions"] == BARS
    assert counters["records"] == BARS + counters["fills"]
    assert counters["fills"] == len(expected)
    assert counters["orders_rejected"] == 0
    assert len(result["step_ns"]) == len(result["batch_ns"]) == BARS
    assert all(s <= b for s, b in zip(result["step_ns"], result["batch_ns"], strict=True))


async def test_no_governance_stage_takes_the_strategy_out_of_trading(
    repo_root: Path, tmp_path: Path
) -> None:
    """Past its first few dozen round trips this strategy loses money often enough to trip
    the quarantine's expectancy trigger, and at high prices its flips trade more than the
    turnover cap's 1x equity a day; the reference engines have neither, so the benchmark's
    overrides keep both from binding and quantbot trades exactly the same way. The bars are
    the seeded ones at 50x the price (the strategy only compares its two averages)."""
    bars = 1_500
    path = tmp_path / "long.f64"
    rb.write_bars(path, bars, "SIMA", seed=7)
    columns = rb.read_columns(path, bars)
    for column in columns[:4]:  # open, high, low, close
        for i in range(bars):
            column[i] *= 50.0
    expected = reference_executions(list(columns[3]), st.FAST, st.SLOW)
    config, _, _ = rb.bench_config(repo_root / "config.toml")
    assert config.quarantine.enabled and config.turnover.enabled  # the stages run
    result = await st.run_quantbot(config, columns, start_ns=rb.START_NS, interval_s=rb.INTERVAL_S)
    assert [list(e) for e in result["executions"]] == expected


@pytest.mark.parametrize("engine", st.ENGINES)
def test_reference_engine_trades_exactly_the_documented_strategy(
    engine: str, bars_file: Path, expected: list[list[int]]
) -> None:
    pytest.importorskip(engine)
    pytest.importorskip("pandas")
    result = st.RUNNERS[engine](rb.read_frame(bars_file, BARS))
    assert [list(e) for e in result["executions"]] == expected
    assert result["final_position"] == sum(q for _, q in expected)


def test_report_compares_the_engines_and_writes_the_file(repo_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "replay_report.json"
    report = rb.run_benchmark([400, BARS], repeat=1, out=out, config_path=repo_root / "config.toml")
    assert orjson.loads(out.read_bytes()) == orjson.loads(orjson.dumps(report, default=str))
    assert len(report["git"]["commit"]) == 40  # which code the figures belong to
    small, large = report["workloads"]
    assert (small["bars"], large["bars"]) == (400, BARS)
    mine = small["engines"]["quantbot"]
    assert mine["trades"] > 0
    assert mine["counters"]["records"] == 400 + mine["counters"]["fills"]
    for key in ("bars_per_s", "wall_s", "peak_rss_mb", "step_p50_us", "batch_p99_9_us"):
        assert mine["median"][key] > 0, key
    for key in ("cpu_s", "bars_per_cpu_s", "run_rss_mb"):
        assert mine["median"][key] > 0, key
    assert mine["median"]["run_rss_mb"] < mine["median"]["peak_rss_mb"]
    assert mine["median"]["step_p50_us"] <= mine["median"]["step_p99_us"]
    assert mine["median"]["peak_rss_mb"] >= mine["median"]["input_rss_mb"]
    missing = st.missing_engines()
    for engine in st.ENGINES:
        if engine in missing:
            assert small["engines"][engine] == {"skipped": missing[engine]}
            continue
        assert small["engines"][engine]["trades"] == mine["trades"]
        assert small["agreement"][engine]["executions_identical"] is True
        assert small["ratios"][f"bars_per_s_vs_{engine}"] > 0
        assert small["engines"][engine]["median"]["bars_per_cpu_s"] > 0
        cpu_ratio = small["ratios"][f"bars_per_cpu_s_vs_{engine}"]
        theirs = small["engines"][engine]["median"]["bars_per_cpu_s"]
        assert cpu_ratio == round(mine["median"]["bars_per_cpu_s"] / theirs, 3)
        assert small["ratios"][f"{rb.WORST_CASE}_bars_per_cpu_s_vs_{engine}"] > 0
        assert engine not in large["engines"]  # references run on the first workload only
    worst = small["engines"][rb.WORST_CASE]  # deadband 0: same trades, every stage per bar
    assert worst["trades"] == mine["trades"] and worst["median"]["step_p50_us"] > 0
    assert small["agreement"][rb.WORST_CASE]["executions_identical"] is True
    assert rb.WORST_CASE not in large["engines"]
    assert report["settings"]["overrides"]["policy.conservative.symbol_cooldown_s"] == 0.0
    named = {(t["target"], t["where"]) for t in report["targets"]}
    assert ("step_p99_9_us", f"{BARS} bars") in named
    assert ("bars_per_cpu_s_largest_vs_smallest", f"{BARS} vs 400 bars") in named
    assert ("run_rss_largest_vs_smallest", f"{BARS} vs 400 bars") in named
    scaled = report["scaling"]  # quantbot at the smallest and the largest workload
    assert scaled["bars"] == [400, BARS]
    assert scaled["trades"] == [mine["trades"], large["engines"]["quantbot"]["trades"]]
    for figure in ("bars_per_cpu_s", "bars_per_s", "peak_rss_mb", "run_rss_mb"):
        f = scaled[figure]
        assert f["smallest"] == mine["median"][figure]
        assert f["largest"] == large["engines"]["quantbot"]["median"][figure]
        assert f["ratio"] == round(f["largest"] / f["smallest"], 3)
    assert report["instructions"] == {"skipped": "not asked for (--no-instructions)"}
    trip = report["round_trip"]  # its own run of the first size, each batch's CPU timed too
    assert {"round_trip_p50_us", "round_trip_cpu_p99_us"} <= set(trip) and trip["bars"] == 400
    table = rb.format_table(report)
    assert "quantbot" in table
    assert "targets:" in table
    assert "scaling, quantbot" in table and "bars/CPU-s" in table


def test_missing_engines_are_reported_as_skipped_with_the_reason(
    repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    why = {e: f"{e} is not installed (No module named {e!r})" for e in st.ENGINES}
    monkeypatch.setattr(st, "missing_engines", lambda: why)
    report = rb.run_benchmark(
        [300], repeat=1, out=tmp_path / "r.json", config_path=repo_root / "config.toml"
    )
    (workload,) = report["workloads"]
    for engine in st.ENGINES:
        assert workload["engines"][engine] == {"skipped": why[engine]}
    assert workload["ratios"] == {} and list(workload["agreement"]) == [rb.WORST_CASE]
    assert report["scaling"] is None  # one workload: nothing to scale against
    assert {t["target"] for t in report["targets"]} == {
        "step_p50_us",
        "step_p99_us",
        "step_p99_9_us",
    }
    assert "skipped: backtrader is not installed" in rb.format_table(report)


def test_agreement_names_the_first_difference() -> None:
    same = rb.agreement([[40, 1], [52, -2]], [[40, 1], [52, -2]])
    assert same["trades_agree"] and same["executions_identical"]
    assert same["first_difference"] is None
    moved = rb.agreement([[40, 1], [52, -2]], [[40, 1], [53, -2]])
    assert moved["trades_agree"] and not moved["executions_identical"]
    assert moved["first_difference"] == {"index": 1, "quantbot": [[52, -2]], "engine": [[53, -2]]}
    extra = rb.agreement([[40, 1]], [[40, 1], [52, -2]])
    assert extra["trades"] == {"quantbot": 1, "engine": 2}
    assert not extra["trades_agree"]
    assert extra["first_difference"] == {"index": 1, "quantbot": [], "engine": [[52, -2]]}


def test_targets_are_marked_met_or_missed() -> None:
    def workload(bars: int, bars_per_s: float, ratio: float, p50: float, rss: float) -> dict:
        median = {"bars_per_cpu_s": bars_per_s, "bars_per_s": bars_per_s / 2, "step_p50_us": p50}
        median |= {"step_p99_us": 40.0, "step_p99_9_us": 300.0}
        median |= {"peak_rss_mb": rss + 40, "run_rss_mb": rss, "input_rss_mb": 40.0}
        ratios = {"bars_per_cpu_s_vs_backtesting": ratio, "peak_rss_vs_backtesting": 1.0}
        ratios["bars_per_s_vs_backtesting"] = 9.9  # wall time: reported, not a target
        engines = {"quantbot": {"median": median, "trades": bars // 10}}
        return {"bars": bars, "engines": engines, "ratios": ratios}

    small, large = workload(300, 1000.0, 0.6, 9.0, 50.0), workload(1000, 880.0, 0.0, 20.0, 60.0)
    rows = rb.targets([small, large])
    verdict = {(r["target"], r["where"]): r["met"] for r in rows}
    assert ("bars_per_s_vs_backtesting", "300 bars") not in verdict
    assert verdict[("bars_per_cpu_s_vs_backtesting", "300 bars")] is True
    assert verdict[("step_p50_us", "300 bars")] is True
    assert verdict[("step_p50_us", "1000 bars")] is False
    assert verdict[("step_p99_us", "300 bars")] is True
    assert verdict[("step_p99_9_us", "300 bars")] is False
    assert verdict[("peak_rss_vs_backtesting", "300 bars")] is True
    assert verdict[("bars_per_cpu_s_largest_vs_smallest", "1000 vs 300 bars")] is False  # 0.88
    assert verdict[("run_rss_largest_vs_smallest", "1000 vs 300 bars")] is False  # 1.2
    large["engines"]["quantbot"]["median"] |= {"bars_per_cpu_s": 900.0, "run_rss_mb": 54.0}
    verdict = {(r["target"], r["where"]): r["met"] for r in rb.targets([small, large])}
    assert verdict[("bars_per_cpu_s_largest_vs_smallest", "1000 vs 300 bars")] is True  # 0.9
    assert verdict[("run_rss_largest_vs_smallest", "1000 vs 300 bars")] is True  # 1.08


def test_overrides_keep_the_config_valid_and_the_deadband_as_shipped(repo_root: Path) -> None:
    config, changes, _ = rb.bench_config(repo_root / "config.toml")
    assert config.market.symbols == ["SIMA"]
    assert config.profile.deadband == 0.2
    assert "profiles.conservative.deadband" not in changes
    assert config.risk_params.policy.symbol_cooldown_s == 0.0
    assert config.venue.sim.fee_bps == 0.0
    assert changes["venue.sim.fill_model"] == "next_open"
    worst, changes, _ = rb.bench_config(repo_root / "config.toml", deadband_zero=True)
    assert worst.profile.deadband == 0.0
    assert changes["profiles.conservative.deadband"] == 0.0
    with pytest.raises(ConfigError, match=r"bench override venue\.sim\.participation_cap"):
        st.apply_overrides(config, {"venue.sim.participation_cap": 2.0})


def test_unit_sizer_sizes_one_unit_at_the_last_close() -> None:
    sizer = st.UnitSizer(1.0, lambda: 123.45)
    assert sizer.target_notional(NetTarget(1.0, 1.0), 1e5).target_notional_usd == 123.45
    assert sizer.target_notional(NetTarget(-0.3, 1.0), 1e5).target_notional_usd == -123.45
    assert sizer.target_notional(NetTarget(0.0, 1.0), 1e5).target_notional_usd == 0.0
    with pytest.raises(InvariantViolation, match="sizer=unit price=None"):
        st.UnitSizer(1.0, lambda: None).target_notional(NetTarget(1.0, 1.0), 1e5)


def test_cli_runs_quantbot_alone_and_prints_the_table(
    repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.chdir(repo_root)
    out = tmp_path / "report.json"
    assert rb.main(["--bars", "300", "--repeat", "1", "--no-compare", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "skipped: --no-compare" in printed
    assert str(out) in printed
    report = orjson.loads(out.read_bytes())
    counters = report["workloads"][0]["engines"]["quantbot"]["counters"]
    assert counters["records"] == 300 + counters["fills"]


def test_the_round_trip_run_pairs_each_send_with_its_fill(bars_file: Path, repo_root: Path) -> None:
    """A replay's order round trip (bench.round_trip): every order the 600 bars send after the
    warm-up fills at the next bar's open, and its two batches are timed in wall and CPU."""
    run = rb.child("quantbot", bars_file, BARS, repo_root / "config.toml", round_trip=True)
    trip = run["round_trip"]
    after_warmup = sum(1 for bar, _ in run["executions"] if bar >= BARS // 2)
    assert trip["round_trips"] + trip["round_trips_unfilled"] == after_warmup > 0
    assert trip["round_trips_unfilled"] == 0
    assert 0 < trip["round_trip_cpu_p50_us"] <= trip["round_trip_cpu_p99_us"]
    assert trip["round_trip_p50_us"] > 0 and trip["plain_cpu_p50_us"] > 0
    assert "batch_cpu_ns" not in run and "sent" not in run  # reduced to the figures
