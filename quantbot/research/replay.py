"""Replay: the live daemon's own pipeline over historical bars, as fast as it goes.

`quantbot replay --data PATH...` builds the same ``Daemon`` a paper run builds (sleeves →
sizer → netting → limits → policy → governor → daily guard → pre-trade gates → journal →
embedded venue), on a simulated clock set to each bar's close, and feeds it the bars batch by
batch without pacing. It writes what a live run writes (decision records, journal, daily risk
ledger, manifest) under ``runtime/replay/<id>/``.

The id is derived from the inputs (config hash, data files' contents, symbols, date range),
and every id and timestamp in the records comes from the bars, so a second replay of the same
inputs writes byte-identical decision records and journal. The manifest is the exception: it
records when and from which commit the replay ran.

Nothing is faked for speed: every gate and reason code of a live run applies. What differs
from ``quantbot run`` is only what cannot exist in the past: no inbox (outside intents are
not historical), no control socket polling, no wall-clock pacing.
"""

from __future__ import annotations

import hashlib
import itertools
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import orjson

from quantbot.clock import NS_PER_S, SimClock, iso_utc
from quantbot.config.loader import to_plain
from quantbot.config.schema import InstrumentSpec, LoadedConfig, config_hash
from quantbot.daemon.daemon import Daemon
from quantbot.decision.step import DecisionStep
from quantbot.domain.errors import DataError
from quantbot.domain.values import Bar
from quantbot.fsutil import ensure_private_dir, write_private
from quantbot.marketdata.csv_bars import iter_by_time
from quantbot.marketdata.instruments import infer as infer_instrument
from quantbot.marketdata.instruments import resolve as resolve_instruments
from quantbot.marketdata.instruments import to_record as instruments_record
from quantbot.marketdata.loaders import load_symbols
from quantbot.marketdata.series import BarSeries
from quantbot.records.durability import REPLAY
from quantbot.research.fill_check import FillRangeCheck
from quantbot.research.summary import ReplayTally, summarize
from quantbot.signals.timeframe import check_timeframes


@attrs.frozen
class ReplayRequest:
    data: tuple[Path, ...]
    symbols: tuple[str, ...] = ()  # empty: every symbol in the files
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    out_root: Path | None = None  # default: <runtime_dir>/replay
    # The files' bars already loaded (``load_symbols`` of ``data``): a walk-forward worker
    # loads them once and replays many windows of them without reading the files again.
    # The replay id still digests the files, so the records are the same either way.
    loaded: Mapping[str, BarSeries] | None = attrs.field(default=None, eq=False, repr=False)
    # Write trades.csv and the HTML report (a walk-forward's task reads only the summary).
    report: bool = True
    # Bars opening before this time only (ns; with ``date_to``, the earlier bound): the
    # leakage check's cut inside a higher timeframe's bar (``research.leakage``).
    end_ns: int | None = None


@attrs.frozen
class ReplayResult:
    replay_id: str
    out_dir: Path
    summary: dict[str, Any]


def load_bars(request: ReplayRequest) -> dict[str, BarSeries]:
    """Each symbol's bars in the files, cut to the symbols and dates asked for (symbols with
    none left out). ``iter_by_time`` turns them into the replay's time batches.

    A ``--symbols`` entry the files do not hold is a ``DataError`` naming what they do hold
    (a typo must not quietly replay less), and so is a date range with no bars in it."""
    wanted = set(request.symbols) or None
    lo = _day_ns(request.date_from) if request.date_from is not None else None
    hi = _day_ns(request.date_to + timedelta(days=1)) if request.date_to is not None else None
    if request.end_ns is not None:
        hi = request.end_ns if hi is None else min(hi, request.end_ns)
    found: set[str] = set()
    if request.loaded is not None:
        loaded = {s: b for s, b in request.loaded.items() if wanted is None or s in wanted}
        found.update(request.loaded)
    else:
        loaded = load_symbols(list(request.data), symbols=wanted, found=found)
    absent = sorted((wanted or set()) - found)
    if absent:
        raise DataError(
            f"--symbols {' '.join(absent)}: not in the data "
            f"(the files hold {', '.join(sorted(found)) or 'no bars'})"
        )
    series = {}
    for symbol, bars in loaded.items():
        start = 0 if lo is None else bars.first_at_or_after(lo)
        end = len(bars) if hi is None else bars.first_at_or_after(hi)
        if start < end:
            series[symbol] = bars[start:end] if (start, end) != (0, len(bars)) else bars
    if not series:
        held = [b.timestamps for b in loaded.values() if b]
        span = (
            f"the data runs {iso_utc(min(t[0] for t in held))[:10]} .. "
            f"{iso_utc(max(t[-1] for t in held))[:10]}"
            if held
            else "the files hold no bars"
        )
        raise DataError(
            f"no bars between --from {request.date_from or '(start)'} and "
            f"--to {request.date_to or '(end)'}: {span}"
        )
    return series


def _day_ns(day: date) -> int:
    """00:00 UTC of ``day`` in ns: bars from ``--from``'s midnight to ``--to``'s next one."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * NS_PER_S


def replay_id(loaded: LoadedConfig, request: ReplayRequest, symbols: list[str]) -> str:
    """A digest of everything that decides the replay's records, and nothing else."""
    digest = hashlib.sha256()
    digest.update(loaded.hash.encode())
    for path in request.data:
        with path.open("rb") as handle:  # in blocks: a big file is never held whole
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    digest.update(orjson.dumps([symbols, str(request.date_from), str(request.date_to)]))
    if request.end_ns is not None:  # only when set: the ids of day-bounded replays stay
        digest.update(orjson.dumps({"end_ns": request.end_ns}))
    return "rp-" + digest.hexdigest()[:16]


def replay_config(
    loaded: LoadedConfig,
    out_dir: Path,
    symbols: list[str],
    instruments: Mapping[str, InstrumentSpec] | None = None,
) -> LoadedConfig:
    """The user's config, pointed at the replay's own directories and the files' symbols,
    with each symbol's instrument as resolved (``marketdata.instruments``)."""
    config = loaded.config
    config = attrs.evolve(
        config,
        instruments={**config.instruments, **(instruments or {})},
        run=attrs.evolve(config.run, state_dir=str(out_dir / "state"), runtime_dir=str(out_dir)),
        market=attrs.evolve(config.market, source="csv", symbols=list(symbols), csv_paths=[]),
        inbox=attrs.evolve(config.inbox, enabled=False),
        records=attrs.evolve(config.records, rotate_daily=False),
        pretrade=attrs.evolve(
            config.pretrade,
            canary_symbols=[s for s in config.pretrade.canary_symbols if s in symbols],
            allowed_symbols=[s for s in config.pretrade.allowed_symbols if s in symbols],
        ),
    )
    plain = to_plain(config)
    # The hash in every record leaves out where the replay writes, so the same inputs give
    # the same records whatever --out says.
    plain["run"] = {**plain["run"], "state_dir": "<replay>/state", "runtime_dir": "<replay>"}
    return LoadedConfig(config=config, path=loaded.path, env_keys=loaded.env_keys,
                        hash=config_hash(plain))  # fmt: skip


def replay_daemon(
    loaded: LoadedConfig,
    out_dir: Path,
    symbols: list[str],
    rid: str,
    clock: SimClock,
    *,
    decision_step: Callable[..., DecisionStep] = DecisionStep.from_config,
    instruments: Mapping[str, InstrumentSpec] | None = None,
) -> Daemon:
    """The daemon a paper run builds, writing under ``out_dir`` on the simulated ``clock``."""
    daemon = Daemon(
        replay_config(loaded, out_dir, symbols, instruments),
        execution_mode="paper",
        clock=clock,
        run_id=rid,
        durability=REPLAY,  # buffered, fsync'd in large batches and at close
        control_socket=False,
        decision_step=decision_step,
    )
    daemon.print_status = False  # stdout keeps the replay's result; status.json is written
    return daemon


async def start(daemon: Daemon, tally: ReplayTally) -> None:
    """Start ``daemon``; ``tally`` sees each record it writes from then on."""
    await daemon.start()
    assert daemon.parts is not None
    daemon.parts.services.records.observers.append(tally.note_record)


async def play(
    daemon: Daemon,
    clock: SimClock,
    batch: list[Bar],
    close_ns: int,
    tally: ReplayTally,
    *,
    fills: FillRangeCheck | None = None,
) -> None:
    """One batch, as the replay plays it: the clock to its close, the pipeline, the check
    that its fills lie within its bars (``fill_check``), the tally."""
    parts = daemon.parts
    assert parts is not None, "daemon not started"
    clock.advance_to(close_ns)
    pipeline = parts.pipeline
    intents = pipeline.counters.intents
    await pipeline.on_batch(batch)
    if fills is not None:
        fills.check(await parts.venue.fills_since(fills.cursor), batch)
    side = parts.order_side
    ledger = side.oms.ledger if side is not None else None
    embedded = parts.venue.embedded
    assert embedded is not None  # a replay plays on the embedded venue
    # The equity the batch read still holds when no fill came since (the read followed the
    # batch's fills poll and its marks; only a fill moves cash or positions): no second look.
    # A batch that sent nothing made no fill after that read: not even the venue is asked.
    equity = pipeline.batch_equity
    if (
        equity is None
        or ledger is None
        or (
            pipeline.counters.intents != intents
            and parts.venue.may_hold_fills_after(ledger.fill_seq)
        )
    ):
        equity = embedded.equity()
    tally.note_batch(batch, float(equity), ledger)


# Told after each batch: bars played so far, bars in all, the batch's open time (ns).
Progress = Callable[[int, int, int], None]


async def run_replay(
    loaded: LoadedConfig, request: ReplayRequest, progress: Progress | None = None
) -> ReplayResult:
    series = load_bars(request)
    symbols = sorted(series)
    timeframes = {n: d.timeframe for n, d in loaded.config.signals.items()}
    check_timeframes(timeframes, {s: b[0].interval_s for s, b in series.items()})
    instruments = resolve_instruments(symbols, loaded.config.instruments, request.data, series)
    total = sum(map(len, series.values()))
    played = 0
    rid = replay_id(loaded, request, symbols)
    root = request.out_root or Path(loaded.config.run.runtime_dir) / "replay"
    out_dir = root / rid
    try:
        if out_dir.exists():  # a replay is a pure function of its inputs: start clean
            shutil.rmtree(out_dir)
        ensure_private_dir(out_dir)
    except OSError as e:
        raise DataError(f"--out {root}: cannot write the replay there: {e}") from e
    batches = iter_by_time(list(series.values()))  # one batch at a time, not all at once
    first = next(batches)
    clock = SimClock(first[0].ts_ns + int(first[0].interval_s * NS_PER_S))
    daemon = replay_daemon(loaded, out_dir, symbols, rid, clock, instruments=instruments)
    tally = ReplayTally()
    await start(daemon, tally)
    assert daemon.parts is not None
    embedded = daemon.parts.venue.embedded
    assert embedded is not None  # a replay plays on the embedded venue
    fills = FillRangeCheck(
        daemon.parts.instruments,
        embedded.fill_cost_bps,
        {s: infer_instrument(series[s]).tick_size for s in symbols},
    )
    try:
        for batch, close_ns in _closes(itertools.chain([first], batches)):
            await play(daemon, clock, batch, close_ns, tally, fills=fills)
            if progress is not None:
                played += len(batch)
                progress(played, total, batch[0].ts_ns)
    finally:
        await daemon.close()
    bars = daemon.parts.pipeline.counters.bars if daemon.parts is not None else 0
    summary = summarize(rid, out_dir, tally, bars, report=request.report)
    summary["instruments"] = instruments_record(instruments)
    summary["fill_model"] = embedded.fill_model_record()
    write_private(out_dir / "summary.json", orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    return ReplayResult(rid, out_dir, summary)


def _closes(batches: Iterable[list[Bar]]) -> Iterator[tuple[list[Bar], int]]:
    for batch in batches:
        yield batch, max(b.ts_ns + int(b.interval_s * NS_PER_S) for b in batch)


def describe(result: ReplayResult) -> str:
    s = result.summary
    return (
        f"replay {result.replay_id}: {s['bars']} bars, {s['orders']['sent']} orders, "
        f"pnl {s['pnl']['total']:+.2f}, max drawdown {s['pnl']['max_drawdown_pct']:.2f}% "
        f"({iso_utc(s['first_bar_ns'])[:10]} .. {iso_utc(s['last_bar_ns'])[:10]})\n"
        f"  records: {result.out_dir / 'decisions.jsonl'}\n"
        f"  summary: {result.out_dir / 'summary.json'}\n"
        f"  report:  {result.out_dir / 'report.html'}"
    )
