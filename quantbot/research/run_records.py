"""What a paper or live run left on disk, read back for `quantbot replay --against RUN`.

A run is named by its id (``runtime/manifests/<run_id>.json`` under the runtime directory) or
by its manifest's path. From the manifest come the resolved config (secrets were redacted
when it was written; a replay needs none: it trades on the embedded paper venue) and the
directories the run wrote to; from the runtime directory its decision records
(``decisions.jsonl`` and the daily files rotated into ``decisions/``), kept to the lines of
this run; from the state directory the journal's FILL lines of the orders it decided.

The bars the run decided on are in its decision records (``bar`` o/h/l/c/v, ``symbol``,
``bar_ts``), so the replay's data files are rebuilt from them (``write_bars``).
"""

from __future__ import annotations

import calendar
import csv
import itertools
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import orjson

from quantbot.config import loader
from quantbot.config.schema import Config, InstrumentSpec, LoadedConfig, config_hash
from quantbot.config.sleeves import with_origin
from quantbot.domain.errors import DataError
from quantbot.marketdata.loaders import SymbolPath
from quantbot.oms.compaction import archives
from quantbot.records.archive import read_records, rotated_files


@attrs.frozen
class RunRecords:
    manifest_path: Path
    manifest: dict[str, Any]
    decisions: list[dict[str, Any]]  # this run's decision records (lines with a decision_id)
    fills: list[dict[str, Any]]  # the journal's FILL events of this run's orders
    base_dir: Path  # the directory the run's relative paths are relative to

    @property
    def run_id(self) -> str:
        return str(self.manifest["run_id"])


def manifest_path(against: str, runtime_dir: Path) -> Path:
    """``against`` as a manifest's path, or as a run id under ``runtime_dir/manifests``."""
    given = Path(against)
    if given.is_file():
        return given
    candidate = runtime_dir / "manifests" / f"{against}.json"
    if candidate.is_file():
        return candidate
    raise DataError(
        f"--against {against}: neither a manifest file nor a run id with a manifest in "
        f"{runtime_dir / 'manifests'}"
    )


def read_run(path: Path) -> RunRecords:
    """The run of the manifest at ``path``, with its decision records and fills."""
    try:
        manifest = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as e:
        raise DataError(f"--against {path}: cannot read the manifest: {e}") from e
    if not isinstance(manifest, dict) or "run_id" not in manifest or "config" not in manifest:
        raise DataError(f"--against {path}: not a run manifest (no run_id or config)")
    run_cfg = manifest["config"].get("run", {})
    runtime = Path(run_cfg.get("runtime_dir", "runtime"))
    runtime_dir = path.resolve().parent.parent  # <runtime>/manifests/<id>.json
    base = runtime_dir
    if not runtime.is_absolute():  # the run's working directory: runtime_dir less its parts
        for _ in runtime.parts:
            base = base.parent
    state = Path(run_cfg.get("state_dir", "state"))
    state_dir = state if state.is_absolute() else base / state
    run_id = str(manifest["run_id"])
    decisions = [
        r
        for r in _jsonl_lines(_decision_files(runtime_dir))
        if r.get("run_id") == run_id and "decision_id" in r
    ]
    if not decisions:
        raise DataError(
            f"--against {run_id}: no decision records of this run in {runtime_dir} "
            "(decisions.jsonl, decisions/decisions-*.jsonl)"
        )
    events = _journal_events(state_dir / "journal.jsonl")
    ours = _run_orders(manifest, decisions, events)
    fills = [e for e in events if e.get("type") == "FILL" and e.get("client_order_id") in ours]
    return RunRecords(path, manifest, decisions, fills, base)


def _journal_events(journal: Path) -> list[dict[str, Any]]:
    """Every event of the journal, its archives' first (a compacted journal keeps only its
    last hours, ``oms.compaction``): each seq once, no SNAPSHOT line."""
    files = [*reversed(archives(journal)), *([journal] if journal.is_file() else [])]
    seen: set[int] = set()
    events = []
    for event in _jsonl_lines(files):
        seq = event.get("seq")
        if event.get("type") == "SNAPSHOT" or (isinstance(seq, int) and seq in seen):
            continue
        if isinstance(seq, int):
            seen.add(seq)
        events.append(event)
    return events


def _run_orders(
    manifest: dict[str, Any], decisions: list[dict[str, Any]], events: list[dict[str, Any]]
) -> set[str]:
    """Client order ids of the run: those its decisions sent, and the journal's INTENTs
    (exit legs, max-hold and stop exits) between its start and its last decision record
    (the journal in ``state/`` holds every run's orders)."""
    ours = {r["intent"]["client_order_id"] for r in decisions if r.get("intent")}
    start = _iso_ns(str(manifest.get("started_at", "")))
    end = max(_iso_ns(str(r.get("ts", ""))) for r in decisions)
    if start and end:
        ours |= {
            str(e["client_order_id"])
            for e in events
            if e.get("type") == "INTENT" and start <= int(e.get("ts_ns", 0)) <= end
        }
    return ours


def _iso_ns(text: str) -> int:
    """``2026-12-07T18:36:57.040564Z`` in ns (0 when it is not such a time)."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return 0
    return (calendar.timegm(when.utctimetuple()) * 1_000_000 + when.microsecond) * 1000


def _decision_files(runtime_dir: Path) -> list[Path]:
    live = runtime_dir / "decisions.jsonl"
    rotated = [path for _day, path in rotated_files(live)]  # plain or gzipped
    return [*rotated, *([live] if live.is_file() else [])]


def _jsonl_lines(paths: list[Path]) -> Iterator[dict[str, Any]]:
    """Each file's JSON objects. A torn last line (a run killed mid-write) is skipped; a line
    that cannot be read before the last is an error naming the file and line."""
    for path in paths:
        lines = read_records(path).splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                if number == len(lines):
                    continue
                raise DataError(f"{path}:{number}: not a JSON record: {e}") from e
            if isinstance(record, dict):
                yield record


def run_config(run: RunRecords, trading_profile: str | None = None) -> LoadedConfig:
    """The run's resolved config, rebuilt from its manifest. What redaction added (whether
    a credential variable was set) is dropped; redacted values only touch venues and alerts
    the replay does not use."""
    plain = _without_presence(run.manifest["config"])
    if trading_profile is not None:
        plain["run"] = {**plain.get("run", {}), "trading_profile": trading_profile}
    where = f"{run.manifest_path}: config"
    config = loader.build(Config, plain, lambda key_path: f"{where}.{'.'.join(key_path)}")
    config = attrs.evolve(config, signals=with_origin(config.signals, run.base_dir))
    return LoadedConfig(
        config=config,
        path=run.manifest_path,
        env_keys={},
        hash=config_hash(loader.to_plain(config)),
    )


def with_run_instruments(loaded: LoadedConfig, run: RunRecords) -> LoadedConfig:
    """``loaded`` with the instruments the run traded. On the embedded venue every symbol
    without an ``[instruments."SYM"]`` table took ``instrument_defaults``
    (``venues.sim.build``), which the replay must take too instead of inferring them from
    the data's decimals. A broker's instruments came from the broker and are not in the
    manifest: for those the replay resolves them as any replay does (config, instruments
    file, the data's decimals)."""
    config = loaded.config
    if config.venue.name != "sim":
        return loaded
    d = config.instrument_defaults
    defaults = InstrumentSpec(
        tick_size=d.tick_size,
        lot_size=d.lot_size,
        min_notional=d.min_notional,
        source="run: instrument_defaults",
    )
    symbols = sorted({r["symbol"] for r in run.decisions})
    instruments = {s: defaults for s in symbols} | dict(config.instruments)
    config = attrs.evolve(config, instruments=instruments)
    return attrs.evolve(loaded, config=config, hash=config_hash(loader.to_plain(config)))


def _without_presence(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {
            k: _without_presence(v)
            for k, v in tree.items()
            if not (k.endswith("_env_present") and isinstance(v, bool))
        }
    if isinstance(tree, list):
        return [_without_presence(v) for v in tree]
    return tree


def bar_interval_s(manifest: dict[str, Any]) -> float | None:
    """The bar length the run asked its feed for: ``market.bar_interval_s`` of the synthetic
    feed, the venue's ``timeframe`` (``1m``, ``5Min``, ``1h`` ...) when bars came from the
    venue; None for a CSV feed (its files' spacing decides, as in the run)."""
    config = manifest["config"]
    market = config.get("market", {})
    source = market.get("source", "synthetic")
    if source == "synthetic":
        return float(market.get("bar_interval_s", 1.0))
    if source == "venue":
        venue = config.get("venue", {})
        timeframe = str(venue.get(venue.get("name", ""), {}).get("timeframe", ""))
        match = _TIMEFRAME.fullmatch(timeframe.strip().lower())
        if match:
            return int(match[1]) * _UNIT_S[match[2]]
    return None


_TIMEFRAME = re.compile(r"(\d+)\s*(s|sec|m|min|h|hour|d|day|w|week)")
_UNIT_S = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86_400,
           "day": 86_400, "w": 604_800, "week": 604_800}  # fmt: skip


def write_bars(
    decisions: list[dict[str, Any]], out_dir: Path, interval_s: float | None = None
) -> tuple[SymbolPath, ...]:
    """The bars the run decided on, one file per symbol in time order, in a layout the
    replay's loaders read and that carries each bar's length: Binance kline CSV, times in
    microseconds (``close_time`` = open + length - 1 µs). The length is ``interval_s``, else
    the smallest gap between the symbol's bars (what a CSV loader infers). A bar time finer
    than a microsecond is an error: its decision and client order ids would not be the
    run's."""
    by_symbol: dict[str, dict[int, dict[str, Any]]] = {}
    for record in decisions:
        ts_ns = _bar_ns(record)
        if ts_ns % 1000:
            raise DataError(
                f"decision {record['decision_id']}: bar time {ts_ns} ns is finer than a "
                "microsecond; the replay's bar file cannot carry it"
            )
        by_symbol.setdefault(record["symbol"], {}).setdefault(ts_ns, record["bar"])
    files = []
    for n, symbol in enumerate(sorted(by_symbol)):
        bars = sorted(by_symbol[symbol].items())
        length_us = _length_us(symbol, [ts for ts, _ in bars], interval_s)
        path = out_dir / f"bars-{n}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle)
            for ts_ns, bar in bars:
                open_us = ts_ns // 1000
                prices = [repr(float(bar[k])) for k in "ohlcv"]
                out.writerow([open_us, *prices, open_us + length_us - 1, 0, 0, 0, 0, 0])
        files.append(SymbolPath(path, symbol=symbol))
    return tuple(files)


def _length_us(symbol: str, times_ns: list[int], interval_s: float | None) -> int:
    if interval_s is not None:
        return round(interval_s * 1_000_000)
    gaps = [b - a for a, b in itertools.pairwise(times_ns)]
    if not gaps:
        raise DataError(
            f"{symbol}: the run decided on one bar only and its config names no bar "
            "length (market.bar_interval_s or the venue's timeframe)"
        )
    return min(gaps) // 1000


def _bar_ns(record: dict[str, Any]) -> int:
    """The bar's open time in ns, from the decision id (``SYMBOL@ns``), which is exact."""
    _, _, ns = str(record["decision_id"]).rpartition("@")
    if not ns.isdigit():
        raise DataError(f"decision record {record['decision_id']!r}: no bar time in its id")
    return int(ns)
