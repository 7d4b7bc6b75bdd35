"""The dashboard's server and view on a real loopback socket: the token guards every route,
nothing but GET exists, a slow page is dropped rather than waited for, and the token lives
in state/dashboard.json (owner-only, removed at stop) and nowhere else."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from quantbot.dashboard.server import CLIENT_QUEUE, DashboardServer
from quantbot.dashboard.view import INBOX, DashboardView
from quantbot.domain.errors import StartupError
from quantbot.ops.feed import RunFeed

TOKEN = "s3cret-Token_for-tests-0123456789abcdef"
SNAPSHOT = {"status": {"run_id": "run-42", "state": "trading"}, "decisions": []}


@pytest.fixture
async def server():
    served = DashboardServer(TOKEN, lambda: SNAPSHOT)
    await served.start()
    yield served
    await served.stop()


def url(server: DashboardServer, path: str, token: str | None = TOKEN) -> str:
    query = "" if token is None else f"?token={token}"
    return f"http://127.0.0.1:{server.port}{path}{query}"


async def read_event(stream: aiohttp.StreamReader) -> tuple[str, Any]:
    """The next server-sent event (comments and the retry line skipped)."""
    event, data = "", None
    while True:
        line = (await stream.readline()).decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data = orjson.loads(line[6:])
        elif not line and event:
            return event, data


@pytest.mark.parametrize("path", ["/", "/events", "/state.json", "/nothing-here"])
@pytest.mark.parametrize("token", [None, "", "wrong", TOKEN[:-1], TOKEN + "x"])
async def test_without_the_token_every_route_says_401_and_shows_nothing(
    server: DashboardServer, path: str, token: str | None
) -> None:
    async with aiohttp.ClientSession() as session, session.get(url(server, path, token)) as r:
        assert r.status == 401
        body = await asyncio.wait_for(r.text(), 5)
    assert "run-42" not in body and "trading" not in body and TOKEN not in body


async def test_with_the_token_the_page_and_its_state_are_served(server: DashboardServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(url(server, "/")) as r:
            page = await r.text()
            headers = r.headers
        async with session.get(url(server, "/state.json")) as r:
            state = await r.json()
    assert r.status == 200 and state == SNAPSHOT
    assert '"run_id":"run-42"' in page and "nothing on it can place or" in page
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    # the page may load nothing from anywhere: no CDN, no other origin
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/", "/events", "/state.json", "/orders", "/cancel"])
async def test_nothing_but_get_exists(server: DashboardServer, method: str, path: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url(server, path), data=b"{}") as r,
    ):
        assert r.status in (404, 405)


async def test_a_page_that_falls_behind_is_dropped_and_publish_never_waits(
    server: DashboardServer,
) -> None:
    async with aiohttp.ClientSession() as session, session.get(url(server, "/events")) as r:
        assert r.headers["Content-Type"] == "text/event-stream"
        assert await read_event(r.content) == ("snapshot", SNAPSHOT)
        assert server.clients == 1
        # More than a page's queue holds, published without giving it a chance to read.
        for n in range(CLIENT_QUEUE + 10):
            server.publish("decision", {"id": n})
        assert (server.clients, server.dropped_clients) == (0, 1)
        rest = await asyncio.wait_for(r.content.read(), 5)
    assert b"event: decision" not in rest  # its queue was emptied: the stream just ends
    assert r.status == 200


async def test_a_page_that_keeps_up_gets_each_update_in_order(server: DashboardServer) -> None:
    async with aiohttp.ClientSession() as session, session.get(url(server, "/events")) as r:
        await read_event(r.content)
        for n in range(3):
            server.publish("decision", {"id": f"SIMA@{n}"})
        got = [await read_event(r.content) for _ in range(3)]
    assert got == [("decision", {"id": f"SIMA@{n}"}) for n in range(3)]


async def test_the_view_writes_the_url_owner_only_pushes_the_feed_and_cleans_up(
    tmp_path: Path,
) -> None:
    shown: list[str] = []
    view = DashboardView(tmp_path / "state", announce=shown.append)
    feed = RunFeed()
    await view.start(feed, lambda: {"run_id": "run-7", "control": "trading", "equity": "1"})
    path = tmp_path / "state" / "dashboard.json"
    saved = orjson.loads(path.read_bytes())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert shown == [saved["url"]] and saved["url"].startswith("http://127.0.0.1:")
    assert saved["url"].endswith(f"?token={saved['token']}") and len(saved["token"]) >= 40
    assert f":{saved['port']}/" in saved["url"]
    assert view.server is not None
    events = saved["url"].replace("/?", "/events?")
    async with aiohttp.ClientSession() as session, session.get(events) as r:
        _event, snapshot = await read_event(r.content)
        assert snapshot["status"]["run_id"] == "run-7"
        feed.publish("record", {"decision_id": "SIMB@9", "symbol": "SIMB", "reason": None})
        assert await read_event(r.content) == (
            "decision",
            {"id": "SIMB@9", "symbol": "SIMB", "ts": "", "target": None, "target_qty": None,
             "order": "", "outcome": "not sent", "reason": ""},
        )  # fmt: skip
        feed.publish("run", {"phase": "stopped", "run_id": "run-7", "ts": "t"})
        await asyncio.wait_for(view.stop(), 5)
        # the last item reached the page before its stream ended
        rest = await asyncio.wait_for(r.content.read(), 5)
    assert b'"phase":"stopped"' in rest
    assert not path.exists() and not feed.watched


async def test_the_feed_subscriber_only_enqueues_and_drops_what_does_not_fit(
    tmp_path: Path,
) -> None:
    view = DashboardView(tmp_path, announce=lambda url: None)
    feed = RunFeed()
    await view.start(feed, lambda: {})
    assert view._task is not None
    view._task.cancel()  # the page's task is stuck: publishing must still return at once
    for n in range(INBOX + 5):
        feed.publish("record", {"decision_id": f"X@{n}"})
    assert view.state.dropped == 5 and feed.watched
    await view.stop()


async def test_a_port_in_use_stops_the_start_with_a_clear_error(tmp_path: Path) -> None:
    first = DashboardView(tmp_path / "a", announce=lambda url: None)
    await first.start(RunFeed(), lambda: {})
    assert first.server is not None
    taken = first.server.port
    second = DashboardView(tmp_path / "b", port=taken, announce=lambda url: None)
    try:
        with pytest.raises(StartupError, match=rf"dashboard: cannot listen on 127.0.0.1:{taken}"):
            await second.start(RunFeed(), lambda: {})
        assert not (tmp_path / "b" / "dashboard.json").exists()
    finally:
        await first.stop()


async def test_orders_working_before_the_run_are_shown_from_the_journal(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    intent = {"seq": 1, "ts_ns": 1, "type": "INTENT", "client_order_id": "qb-earlier",
              "symbol": "SIMA", "side": "SELL", "qty": "5", "order_type": "STOP",
              "stop_price": "97.5", "exit_role": "stop_loss"}  # fmt: skip
    ack = {"seq": 2, "ts_ns": 2, "type": "ACK", "client_order_id": "qb-earlier"}
    (state_dir / "journal.jsonl").write_bytes(
        b"".join(orjson.dumps(e) + b"\n" for e in (intent, ack))
    )
    view = DashboardView(state_dir, announce=lambda url: None)
    await view.start(RunFeed(), lambda: {})
    try:
        [order] = view.state.snapshot()["orders"]["open"]
        assert (order["id"], order["role"], order["status"]) == (
            "qb-earlier",
            "stop_loss",
            "ACCEPTED",
        )
    finally:
        await view.stop()
