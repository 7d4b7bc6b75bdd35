"""Issue 22 item 1, the fallback, as a user runs it: ``quantbot run`` as a subprocess on the
loopback Binance (bars polled over REST by the real ccxt SDK), with a second loopback Binance
serving the same market at another address as ``[providers] data_fallback_url``.

Once the daemon decides, the primary's candle reply is cut in half (``truncated_json``):
``data_primary`` is disabled for ``disable_s``. With ``data_fallback = "venue_rest"`` the
decisions go on, on the fallback's bars, and then on the primary's again, with no bar missed
or decided twice (the ``bar_ts`` of the decision records, per symbol); without it, no
decision is taken while it is disabled and the record says what that blocks."""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from quantbot.testing.binance import BinanceServer
from quantbot.testing.faults import Fault
from tests.integration.daemon import REPO_ROOT, read_jsonl, run, start
from tests.integration.loopback import Servers, ServerThread
from tests.integration.test_real_venues_e2e import COMMON, KEY, SECRET, binance, binance_streamed

KLINES = "GET /api/v3/klines"
WINDOW_S = 4.0
SYMBOLS = ("ETH/USDT", "BTC/USDT")

pytestmark = pytest.mark.e2e


def _decisions(lines: list[dict]) -> list[dict]:
    return [r for r in lines if r.get("bar_ts") and r.get("symbol")]


def _index(lines: list[dict], event: str) -> int:
    [at] = [i for i, r in enumerate(lines) if r.get("event") == event]
    return at


def _minutes(lines: list[dict], symbol: str) -> list[int]:
    """The open minute of each bar decided for ``symbol``, in record order."""
    stamps = [r["bar_ts"] for r in _decisions(lines) if r["symbol"] == symbol]
    return [int(datetime.fromisoformat(s).timestamp()) // 60 for s in stamps]


def _run(
    tmp_path: Path, *, fallback: bool, done: Callable[[list[dict]], bool]
) -> tuple[list[dict], dict[str, int]]:
    """The daemon on the loopback Binance, the primary's candle reply cut once it decides,
    run until ``done(records)``: its records, and how often each server was asked for
    candles after the cut."""
    shutil.copy(REPO_ROOT / "config.toml", tmp_path / "config.toml")
    server, env = binance()
    mirror = BinanceServer(api_key=KEY, api_secret=SECRET, book=server.book)
    env["QUANTBOT__PROVIDERS__DISABLE_S"] = str(WINDOW_S)
    decisions = tmp_path / "runtime" / "decisions.jsonl"

    def records() -> list[dict]:
        return read_jsonl(decisions) if decisions.exists() else []

    asked: dict[str, int] = {}
    with ServerThread(Servers(server, mirror)) as srv:
        env["QUANTBOT__VENUE__CCXT__BASE_URL"] = srv.url
        if fallback:
            env["QUANTBOT__PROVIDERS__DATA_FALLBACK"] = "venue_rest"
            env["QUANTBOT__PROVIDERS__DATA_FALLBACK_URL"] = mirror.base_url
        proc = start(tmp_path, "run", "--execution-mode", "paper", env={**COMMON, **env})
        try:
            deadline = time.monotonic() + 90
            armed = False
            while not (armed and done(records())):
                assert proc.poll() is None, proc.communicate()[1][-3000:]
                assert time.monotonic() < deadline, f"never done: {records()[-5:]}"
                if not armed and len(_decisions(records())) >= 3 * len(SYMBOLS):
                    srv.call(lambda: server.faults.arm(KLINES, Fault("truncated_json")))
                    before = srv.call(lambda: (server.requests.count(KLINES),
                                               mirror.requests.count(KLINES)))  # fmt: skip
                    armed = True
                srv.call(lambda: server.tick(1))  # the market moves a minute every 0.1 s
                time.sleep(0.1)
        finally:
            proc.terminate()
            _out, err = proc.communicate(timeout=30)
        after = srv.call(lambda: (server.requests.count(KLINES), mirror.requests.count(KLINES)))
        asked = {"primary": after[0] - before[0], "fallback": after[1] - before[1]}
    assert proc.returncode == 0, err[-3000:]
    assert "Unclosed" not in err, err[-3000:]  # the fallback's client is closed at the stop
    return records(), asked


def _unbroken(minutes: list[int]) -> bool:
    return all(b - a == 1 for a, b in itertools.pairwise(minutes))


def test_a_disabled_primary_hands_over_to_the_fallback_and_back_without_a_gap(
    tmp_path: Path,
) -> None:
    def done(lines: list[dict]) -> bool:
        ended = [i for i, r in enumerate(lines) if r.get("event") == "DATA_FALLBACK_ENDED"]
        return bool(ended) and len(_decisions(lines[ended[0] :])) >= 3 * len(SYMBOLS)

    lines, asked = _run(tmp_path, fallback=True, done=done)
    disabled = lines[_index(lines, "PROVIDER_DISABLED")]["reason"]
    assert (disabled["provider"], disabled["cause"]) == ("data_primary", "PROVIDER_SCHEMA_DISABLE")
    assert disabled["fallback"] == "venue_rest" and disabled["blocks"].startswith("nothing")
    active_at = _index(lines, "DATA_FALLBACK_ACTIVE")
    ended_at = _index(lines, "DATA_FALLBACK_ENDED")
    active = lines[active_at]["reason"]
    assert (active["cause"], active["until"]) == ("PROVIDER_DISABLED", disabled["until"])
    assert _index(lines, "PROVIDER_DISABLED") < active_at < _index(lines, "PROVIDER_ENABLED")
    assert _index(lines, "PROVIDER_ENABLED") < ended_at

    served = _decisions(lines[active_at:ended_at])
    assert {r["symbol"] for r in served} == set(SYMBOLS), "no decision on the fallback's bars"
    ended = lines[ended_at]["reason"]
    assert ended["bars_from_fallback"] == len(served)
    assert _decisions(lines[ended_at:]), "no decision on the primary's bars after"
    for symbol in SYMBOLS:  # one decision a minute: none missed, none twice, across both
        minutes = _minutes(lines, symbol)
        assert _unbroken(minutes), (symbol, minutes)
    assert asked["fallback"] > 0 and asked["primary"] > 0
    [manifest] = (tmp_path / "runtime" / "manifests").glob("*.json")
    said = orjson.loads(manifest.read_bytes())["feature_flags"]["market_data"]
    assert said.startswith("poll: ") and "data_fallback venue_rest: CcxtRestBars(" in said


def test_without_a_fallback_nothing_is_decided_while_the_primary_is_disabled(
    tmp_path: Path,
) -> None:
    def done(lines: list[dict]) -> bool:
        events = [r.get("event") for r in lines]
        if "PROVIDER_ENABLED" not in events:
            return False
        return len(_decisions(lines[events.index("PROVIDER_ENABLED") :])) >= 2 * len(SYMBOLS)

    lines, asked = _run(tmp_path, fallback=False, done=done)
    disabled_at, enabled_at = _index(lines, "PROVIDER_DISABLED"), _index(lines, "PROVIDER_ENABLED")
    disabled = lines[disabled_at]["reason"]
    assert disabled["provider"] == "data_primary" and disabled["fallback"] is None
    assert "no data_fallback configured, so no bars and no decisions" in disabled["blocks"]
    assert _decisions(lines[disabled_at:enabled_at]) == []  # blocked, as it says
    assert not any(str(r.get("event", "")).startswith("DATA_FALLBACK") for r in lines)
    assert asked["fallback"] == 0
    # Back on the primary, the minutes it missed are decided then, none twice.
    for symbol in SYMBOLS:
        minutes = _minutes(lines, symbol)
        assert _unbroken(minutes), (symbol, minutes)


def test_a_fallback_beside_bars_pushed_over_the_websocket_refuses_the_start(
    tmp_path: Path,
) -> None:
    shutil.copy(REPO_ROOT / "config.toml", tmp_path / "config.toml")
    servers, env = binance_streamed()
    with ServerThread(servers) as srv:
        env["QUANTBOT__VENUE__CCXT__BASE_URL"] = srv.url
        env["QUANTBOT__VENUE__CCXT__WS_URL"] = servers.ws.ws_url
        env["QUANTBOT__PROVIDERS__DATA_FALLBACK"] = "venue_rest"
        env["QUANTBOT__PROVIDERS__DATA_FALLBACK_URL"] = "http://127.0.0.1:9"
        done = run(tmp_path, "run", "--execution-mode", "paper", env={**COMMON, **env})
    assert done.returncode == 2, done.stderr
    assert "providers.data_fallback = 'venue_rest': takes over from polled bars only" in done.stderr
    assert "set venue.ccxt.stream = false" in done.stderr
    assert "Unclosed" not in done.stderr  # refused before any client was opened
    decisions = tmp_path / "runtime" / "decisions.jsonl"
    assert not decisions.exists() or not [r for r in read_jsonl(decisions) if r.get("bar_ts")]
