"""Alerts: what lands in runtime/alerts.jsonl and the log, when, and what halts."""

from __future__ import annotations

import asyncio
import http.server
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from loguru import logger

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.ops import AlertsConfig
from quantbot.domain.errors import ConfigError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.ops.alerts import (
    DEDUPE_S,
    AlertSink,
    make_webhook,
    safe_url,
    webhook_from_config,
)

T0 = 1_763_726_400_000_000_000  # 2025-11-21T12:00:00Z


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0)


@pytest.fixture
def logs() -> Iterator[list[str]]:
    messages: list[str] = []
    sink_id = logger.add(
        lambda m: messages.append(str(m)), level="DEBUG", format="{level} {message}"
    )
    yield messages
    logger.remove(sink_id)


def make_sink(tmp_path: Path, clock: SimClock, **kwargs: Any) -> AlertSink:
    config = kwargs.pop("config", AlertsConfig())
    return AlertSink(
        path=tmp_path / "runtime" / "alerts.jsonl", clock=clock, config=config, **kwargs
    )


def lines(sink: AlertSink) -> list[dict[str, Any]]:
    if not sink.path.exists():
        return []
    return [orjson.loads(line) for line in sink.path.read_bytes().splitlines()]


# -- the file and the log -----------------------------------------------------------------------
def test_emit_writes_one_owner_only_json_line_per_alert(tmp_path, clock, logs) -> None:
    sink = make_sink(tmp_path, clock)
    record = sink.emit(ReasonCode.ALERT_RECONCILE_MISMATCH, symbol="SIMA", journal="1", venue="2")

    assert record == {
        "ts": "2025-11-21T12:00:00.000000Z",
        "alert": "ALERT_RECONCILE_MISMATCH",
        "halts": False,
        "symbol": "SIMA",
        "journal": "1",
        "venue": "2",
    }
    assert lines(sink) == [record]  # flushed at once, readable while the sink is open
    assert stat.S_IMODE(sink.path.stat().st_mode) == 0o600
    assert any(m.startswith("WARNING ALERT_RECONCILE_MISMATCH symbol=SIMA") for m in logs)
    sink.close()


def test_file_is_appended_across_sinks_and_tightened_to_owner_only(tmp_path, clock) -> None:
    path = tmp_path / "runtime" / "alerts.jsonl"
    path.parent.mkdir()
    path.write_bytes(b'{"alert": "from an earlier run"}\n')
    path.chmod(0o644)
    sink = make_sink(tmp_path, clock)
    sink.emit(ReasonCode.ALERT_STALE_DATA, symbol="SIMA")
    sink.close()

    assert [r["alert"] for r in lines(sink)] == ["from an earlier run", "ALERT_STALE_DATA"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_context_never_overwrites_the_envelope(tmp_path, clock) -> None:
    sink = make_sink(tmp_path, clock)
    record = sink.emit(ReasonCode.ALERT_STALE_DATA, ts="bogus", alert="bogus", symbol="SIMA")
    assert record is not None
    assert record["alert"] == "ALERT_STALE_DATA"
    assert record["ts"] == "2025-11-21T12:00:00.000000Z"
    assert record["context_ts"] == record["context_alert"] == "bogus"


# -- dedupe -------------------------------------------------------------------------------------
def test_same_alert_is_not_repeated_within_the_dedupe_window(tmp_path, clock) -> None:
    sink = make_sink(tmp_path, clock)
    assert sink.emit(ReasonCode.ALERT_STALE_DATA, symbol="SIMA") is not None
    clock.advance(DEDUPE_S - 0.001)
    assert sink.emit(ReasonCode.ALERT_STALE_DATA, symbol="SIMA") is None
    # another key (symbol) or another code is a different alert
    assert sink.emit(ReasonCode.ALERT_STALE_DATA, symbol="SIMB") is not None
    assert sink.emit(ReasonCode.ALERT_REPEATED_REJECTS, symbol="SIMA") is not None
    clock.advance(0.001)
    assert sink.emit(ReasonCode.ALERT_STALE_DATA, symbol="SIMA") is not None
    assert [(r["alert"], r["symbol"]) for r in lines(sink)] == [
        ("ALERT_STALE_DATA", "SIMA"),
        ("ALERT_STALE_DATA", "SIMB"),
        ("ALERT_REPEATED_REJECTS", "SIMA"),
        ("ALERT_STALE_DATA", "SIMA"),
    ]


def test_each_order_gets_its_own_alert_even_on_one_symbol(tmp_path, clock) -> None:
    # Two orders of one symbol going UNKNOWN a second apart are two things to look up.
    sink = make_sink(tmp_path, clock)
    sink.emit(ReasonCode.ALERT_ORDER_UNKNOWN, symbol="SIMA", client_order_id="qb1")
    clock.advance(1)
    sink.emit(ReasonCode.ALERT_ORDER_UNKNOWN, symbol="SIMA", client_order_id="qb2")
    sink.emit(ReasonCode.ALERT_ORDER_UNKNOWN, symbol="SIMA", client_order_id="qb2")
    assert [r["client_order_id"] for r in lines(sink)] == ["qb1", "qb2"]


def test_each_sleeve_gets_its_own_alert(tmp_path, clock) -> None:
    # Two sleeves tripping their drawdown breakers a second apart are two things to look at.
    sink = make_sink(tmp_path, clock)
    sink.emit(ReasonCode.DRAWDOWN_BREAKER_SLEEVE, sleeve="trend")
    clock.advance(1)
    sink.emit(ReasonCode.DRAWDOWN_BREAKER_SLEEVE, sleeve="mean_reversion")
    sink.emit(ReasonCode.DRAWDOWN_BREAKER_SLEEVE, sleeve="mean_reversion")
    assert [r["sleeve"] for r in lines(sink)] == ["trend", "mean_reversion"]


def test_dedupe_window_is_configurable(tmp_path, clock) -> None:
    sink = make_sink(tmp_path, clock, dedupe_s=5)
    assert sink.emit(ReasonCode.ALERT_STALE_DATA, symbol="SIMA") is not None
    clock.advance(5)
    assert sink.emit(ReasonCode.ALERT_STALE_DATA, symbol="SIMA") is not None


def test_a_halting_alert_always_goes_out(tmp_path, clock) -> None:
    halts: list[Reason] = []
    sink = make_sink(tmp_path, clock, on_halt=halts.append)
    for _ in range(3):
        assert sink.reconcile_mismatch(halts=True, symbol="SIMA") is not None
    assert len(lines(sink)) == 3
    assert len(halts) == 3


# -- halting ------------------------------------------------------------------------------------
def test_halt_trading_alerts_and_sets_the_halt_reason_it_was_given(tmp_path, clock, logs) -> None:
    halts: list[Reason] = []
    sink = make_sink(tmp_path, clock, on_halt=halts.append)
    auth = reason(ReasonCode.AUTH_HALT, dependency="broker_submit", status=401)

    record = sink.halt_trading(auth)

    assert halts == [auth]
    assert record == {
        "ts": "2025-11-21T12:00:00.000000Z",
        "alert": "ALERT_HALT_TRADING",
        "halts": True,
        "halt_code": "AUTH_HALT",
        "dependency": "broker_submit",
        "status": 401,
    }
    assert any(m.startswith("ERROR ALERT_HALT_TRADING halt_code=AUTH_HALT") for m in logs)


def test_a_halting_emit_calls_on_halt_with_its_code_and_context(tmp_path, clock) -> None:
    halts: list[Reason] = []
    sink = make_sink(tmp_path, clock, on_halt=halts.append)
    sink.reconcile_mismatch(halts=True, symbol="SIMA", journal_qty="10", venue_qty="0")
    assert halts == [
        reason(ReasonCode.ALERT_RECONCILE_MISMATCH, symbol="SIMA", journal_qty="10", venue_qty="0")
    ]
    assert lines(sink)[0]["halts"] is True


def test_non_halting_alerts_never_call_on_halt(tmp_path, clock) -> None:
    halts: list[Reason] = []
    sink = make_sink(tmp_path, clock, on_halt=halts.append)
    sink.reconcile_mismatch(symbol="SIMA")
    sink.breaker_opened("broker_submit", {"state": "open"})
    sink.emit(ReasonCode.ALERT_STALE_DATA, symbol="SIMA")
    assert halts == []


# -- repeated rejects ---------------------------------------------------------------------------
def test_repeated_rejects_below_at_and_above_the_threshold(tmp_path, clock) -> None:
    config = AlertsConfig(repeated_rejects=3, rejects_window_s=60.0)
    sink = make_sink(tmp_path, clock, config=config, dedupe_s=0)

    assert sink.note_reject("SIMA") is None
    clock.advance(10)
    assert sink.note_reject("SIMA") is None  # below: 2 of 3
    clock.advance(10)
    at = sink.note_reject("SIMA", reason="insufficient funds")  # at: 3 within 60 s
    assert at is not None
    assert at["alert"] == "ALERT_REPEATED_REJECTS"
    assert (at["symbol"], at["rejects"], at["threshold"], at["window_s"]) == ("SIMA", 3, 3, 60.0)
    assert at["reason"] == "insufficient funds"
    clock.advance(10)
    above = sink.note_reject("SIMA")
    assert above is not None
    assert above["rejects"] == 4


def test_rejects_outside_the_window_or_on_other_symbols_do_not_count(tmp_path, clock) -> None:
    config = AlertsConfig(repeated_rejects=3, rejects_window_s=60.0)
    sink = make_sink(tmp_path, clock, config=config)
    sink.note_reject("SIMA")
    sink.note_reject("SIMA")
    assert sink.note_reject("SIMB") is None
    clock.advance(60.001)  # the first two have left the window
    assert sink.note_reject("SIMA") is None
    assert lines(sink) == []


def test_a_reject_storm_alerts_once_per_dedupe_window(tmp_path, clock) -> None:
    sink = make_sink(tmp_path, clock, config=AlertsConfig(repeated_rejects=2))
    for _ in range(20):
        sink.note_reject("SIMA")
        clock.advance(1)
    assert len(lines(sink)) == 1


# -- stale data ---------------------------------------------------------------------------------
def test_stale_data_below_at_and_above_the_threshold(tmp_path, clock) -> None:
    sink = make_sink(tmp_path, clock, config=AlertsConfig(stale_data_s=30.0))
    sink.note_bar("SIMA", T0)
    sink.note_bar("SIMB", T0)

    clock.advance(29)
    assert sink.check_stale() == []  # below
    sink.note_bar("SIMB", clock.now_ns())  # SIMB keeps delivering
    clock.advance(1)
    assert sink.check_stale() == []  # at: 30 s is not yet stale
    clock.advance(0.001)
    stale = sink.check_stale()  # above
    assert [(r["alert"], r["symbol"]) for r in stale] == [("ALERT_STALE_DATA", "SIMA")]
    assert stale[0]["age_s"] == pytest.approx(30.001)
    assert stale[0]["last_bar_at"] == "2025-11-21T12:00:00.000000Z"
    assert sink.check_stale() == []  # still stale, but not repeated within the dedupe window


def test_a_bar_that_arrives_clears_staleness_and_old_bars_do_not_rewind(tmp_path, clock) -> None:
    sink = make_sink(tmp_path, clock, config=AlertsConfig(stale_data_s=30.0))
    sink.note_bar("SIMA", T0)
    clock.advance(31)
    sink.note_bar("SIMA", clock.now_ns())
    sink.note_bar("SIMA", T0)  # late, out-of-order bar
    assert sink.check_stale() == []


def test_a_watched_symbol_that_never_delivers_goes_stale(tmp_path, clock) -> None:
    sink = make_sink(tmp_path, clock, config=AlertsConfig(stale_data_s=30.0))
    sink.watch(["SIMA", "SIMB"])
    sink.note_bar("SIMB", T0 + 20 * NS_PER_S)
    clock.advance(31)
    assert [r["symbol"] for r in sink.check_stale()] == ["SIMA"]


# -- breakers -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "dep", ["broker_submit", "broker_positions", "broker_open_orders", "data_primary"]
)
def test_an_open_breaker_on_a_critical_dependency_alerts(tmp_path, clock, dep) -> None:
    sink = make_sink(tmp_path, clock)
    record = sink.breaker_opened(dep, {"state": "open", "failures": 3, "open_s": 60.0})
    assert record is not None
    assert record["alert"] == "ALERT_BREAKER_OPEN"
    assert record["dependency"] == dep
    assert record["breaker"] == {"state": "open", "failures": 3, "open_s": 60.0}
    assert sink.breaker_opened(dep, {"state": "open"}) is None  # flapping: deduped


@pytest.mark.parametrize("dep", ["data_fallback", "quotes_primary", "calendar_market_clock"])
def test_an_open_breaker_on_a_non_critical_dependency_does_not_alert(tmp_path, clock, dep) -> None:
    sink = make_sink(tmp_path, clock)
    assert sink.breaker_opened(dep, {"state": "open"}) is None
    assert lines(sink) == []


def test_breaker_snapshot_of_any_shape_is_recorded(tmp_path, clock) -> None:
    class Snapshot:
        def to_record(self) -> dict:
            return {"state": "open"}

    sink = make_sink(tmp_path, clock, dedupe_s=0)
    assert sink.breaker_opened("broker_submit", Snapshot())["breaker"] == {"state": "open"}
    assert sink.breaker_opened("data_primary")["breaker"] is None


# -- webhook ------------------------------------------------------------------------------------
class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, dict]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, orjson.loads(body)))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass


@pytest.fixture
def receiver() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


async def test_webhook_posts_the_alert_json_to_a_loopback_server(
    tmp_path, clock, receiver, logs
) -> None:
    port = receiver.server_address[1]
    url = f"http://127.0.0.1:{port}/hooks/secret-token-123"
    sink = make_sink(tmp_path, clock, webhook=make_webhook(url, 2.0))

    record = sink.emit(ReasonCode.ALERT_STALE_DATA, symbol="SIMA")
    assert len(sink.pending_webhooks) == 1  # emit did not wait for the post
    await asyncio.wait_for(asyncio.gather(*sink.pending_webhooks), 10)

    assert receiver.received == [("/hooks/secret-token-123", record)]  # type: ignore[attr-defined]
    assert sink.pending_webhooks == frozenset()
    assert not any("secret-token-123" in m for m in logs)
    await sink.aclose()


async def test_webhook_to_a_closed_port_is_logged_without_the_url_and_not_raised(
    tmp_path, clock, logs
) -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://user:pw@127.0.0.1:{port}/hook?token=s3cr3t"
    halts: list[Reason] = []
    sink = make_sink(tmp_path, clock, on_halt=halts.append, webhook=make_webhook(url, 2.0))

    record = sink.halt_trading(reason(ReasonCode.AUTH_HALT))
    await sink.aclose()  # awaits the post, which fails quietly

    assert record is not None
    assert len(halts) == 1
    assert lines(sink) == [record]
    failures = [m for m in logs if "alert webhook" in m]
    assert failures
    assert any(f"http://127.0.0.1:{port} failed" in m for m in failures)
    assert not any("s3cr3t" in m or "pw@" in m for m in logs)


async def test_a_webhook_that_raises_is_logged_not_propagated(tmp_path, clock, logs) -> None:
    async def broken(record: dict) -> None:
        raise RuntimeError("boom")

    sink = make_sink(tmp_path, clock, webhook=broken)
    assert sink.emit(ReasonCode.ALERT_STALE_DATA, symbol="SIMA") is not None
    await sink.aclose()
    assert any("alert webhook failed: RuntimeError" in m for m in logs)


async def test_aclose_bounds_the_wait_for_a_hung_webhook(tmp_path, clock) -> None:
    never = asyncio.Event()

    async def hung(record: dict) -> None:
        await never.wait()

    sink = make_sink(tmp_path, clock, webhook=hung)
    sink.emit(ReasonCode.ALERT_STALE_DATA, symbol="SIMA")
    (task,) = sink.pending_webhooks
    await asyncio.wait_for(sink.aclose(timeout_s=0.01), 5)
    assert task.cancelled()
    assert sink.pending_webhooks == frozenset()


def test_without_a_running_loop_the_alert_is_still_recorded(tmp_path, clock, logs) -> None:
    async def hook(record: dict) -> None:
        raise AssertionError("must not be scheduled without a loop")

    sink = make_sink(tmp_path, clock, webhook=hook)
    assert sink.emit(ReasonCode.ALERT_STALE_DATA, symbol="SIMA") is not None
    assert len(lines(sink)) == 1
    assert any("webhook skipped" in m for m in logs)


def test_webhook_is_off_by_default_and_built_from_config() -> None:
    assert webhook_from_config(AlertsConfig()) is None
    assert webhook_from_config(AlertsConfig(webhook_url="https://hooks.example/x")) is not None


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://host/x", "not a url", "https:///no-host"]
)
def test_webhook_url_must_be_http_and_is_not_echoed(url) -> None:
    with pytest.raises(ConfigError, match=r"alerts\.webhook_url") as exc:
        make_webhook(url, 1.0)
    assert url not in str(exc.value)


def test_safe_url_keeps_only_scheme_host_and_port() -> None:
    assert safe_url("https://u:p@hooks.example:8443/t/abc?k=v") == "https://hooks.example:8443"
    assert safe_url("https://hooks.example/t/abc") == "https://hooks.example"
