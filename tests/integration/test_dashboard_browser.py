"""`quantbot run --dashboard` as an operator opens it: a daemon run as a subprocess, its page
rendered by a real headless Chromium (Debian's). The page shows the run with the token and
nothing without it, and a decision appears in the open page within a second of its record
being written to runtime/decisions.jsonl (Chromium driven through its DevTools protocol,
the DOM read with Runtime.evaluate)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.integration.daemon import REPO_ROOT, start, wait_until
from tests.integration.test_report_browser import CHROMIUM, HEADLESS, chromium

# Two bars a second: a decision stays among the page's last 50 rows for several seconds.
SLOW_BARS = {"QUANTBOT__MARKET__BAR_INTERVAL_S": "0.5"}
LATENCY_LIMIT_S = 1.0


def dashboard(workdir: Path) -> subprocess.Popen[str]:
    return start(
        workdir, "run", "--config", str(REPO_ROOT / "config.toml"),
        "--execution-mode", "paper", "--dashboard", "--duration", "60s", env=SLOW_BARS,
    )  # fmt: skip


def served(workdir: Path, proc: subprocess.Popen[str]) -> dict:
    path = workdir / "state" / "dashboard.json"
    wait_until(path.exists, timeout=30, what="state/dashboard.json", proc=proc)
    return orjson.loads(path.read_bytes())


def run_id(workdir: Path) -> str:
    [manifest] = (workdir / "runtime" / "manifests").glob("*.json")
    return manifest.stem


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.terminate()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-3000:]
    return out, err


def decision_ids(path: Path) -> list[str]:
    """The decision ids of every complete line (a line being written is read next time)."""
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")[:-1]
    return [r["decision_id"] for r in map(orjson.loads, lines) if "decision_id" in r]


@pytest.mark.e2e
def test_the_page_shows_the_run_with_its_token_and_nothing_without_it(
    workdir: Path, tmp_path: Path
) -> None:
    proc = dashboard(workdir)
    try:
        info = served(workdir, proc)  # written once the run is up: its manifest is there
        rid = run_id(workdir)
        shown = chromium(tmp_path, "--dump-dom", info["url"])
        assert shown.returncode == 0, shown.stderr[-3000:]
        dom = shown.stdout
        [body] = re.findall(r"<body[^>]*>", dom)
        assert 'data-dashboard-ready="1"' in body, "the page's script did not run"
        assert re.search(rf'data-field="run_id">{rid}<', dom), dom[:3000]
        assert re.search(r'class="pill trading" data-field="state">trading<', dom)
        assert re.search(r'data-field="mode">paper<', dom)
        assert "nothing on it can place or" in dom

        bare = info["url"].split("?")[0]
        for url in (bare, bare + "?token=wrong", bare + "events", bare + "state.json"):
            refused = chromium(tmp_path, "--dump-dom", url)
            assert refused.returncode == 0, refused.stderr[-3000:]
            assert "401: this dashboard needs its token" in refused.stdout
            assert rid not in refused.stdout and "data-field" not in refused.stdout
    finally:
        out, err = stop(proc)
    # The URL with its token: printed once, to the terminal, and nowhere under runtime/.
    token = info["token"]
    assert err.count(f"dashboard: {info['url']}") == 1 and token not in out
    assert not (workdir / "state" / "dashboard.json").exists()  # removed at stop
    for path in [*(workdir / "runtime").rglob("*"), *(workdir / "state").rglob("*")]:
        if path.is_file():  # logs, records, the manifest, the journal, status.json ...
            assert token.encode() not in path.read_bytes(), path


class DevTools:
    """One page of a headless Chromium, driven through its DevTools protocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._id = 0

    async def evaluate(self, expression: str) -> object:
        self._id += 1
        await self._ws.send_json(
            {"id": self._id, "method": "Runtime.evaluate",
             "params": {"expression": expression, "returnByValue": True}}
        )  # fmt: skip
        while True:
            reply = await self._ws.receive_json(timeout=10)
            if reply.get("id") == self._id:
                return reply["result"]["result"].get("value")


async def open_page(session: aiohttp.ClientSession, profile: Path) -> DevTools:
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while not (active.exists() and active.read_text().count("\n") >= 1):
        assert time.monotonic() < deadline, "Chromium did not open its DevTools port"
        await asyncio.sleep(0.05)
    port = active.read_text().splitlines()[0]
    async with session.get(f"http://127.0.0.1:{port}/json/list") as r:
        targets = await r.json()
    [page] = [t for t in targets if t["type"] == "page"]
    return DevTools(await session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0))


async def poll(devtools: DevTools, expression: str, *, within: float) -> object:
    """Evaluate ``expression`` in the page until it is truthy (bounded)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = await devtools.evaluate(expression)
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {within}s waiting for {expression}")


async def new_decisions_reach_the_page(profile: Path, decisions: Path) -> list[float]:
    """How long after its line appeared in the file each of five decisions showed up."""
    async with aiohttp.ClientSession() as session:
        devtools = await open_page(session, profile)
        await poll(devtools, "document.body && document.body.dataset.live === '1'", within=30)
        latencies: list[float] = []
        seen = len(decision_ids(decisions))
        while len(latencies) < 5:
            deadline = time.monotonic() + 30
            while len(ids := decision_ids(decisions)) == seen:
                assert time.monotonic() < deadline, "no new decision record"
                await asyncio.sleep(0.005)
            written = time.monotonic()
            newest = ids[-1]
            await poll(
                devtools,
                f"document.querySelector('[data-decision-id=\"{newest}\"]') !== null",
                within=5,
            )
            latencies.append(time.monotonic() - written)
            seen = len(decision_ids(decisions))
        return latencies


@pytest.mark.e2e
def test_a_new_decision_shows_in_the_open_page_within_a_second(
    workdir: Path, tmp_path: Path
) -> None:
    proc = dashboard(workdir)
    try:
        info = served(workdir, proc)
        profile = tmp_path / "chromium-live"
        browser = subprocess.Popen(
            [CHROMIUM, *HEADLESS, "--remote-debugging-port=0", f"--user-data-dir={profile}",
             info["url"]],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            decisions = workdir / "runtime" / "decisions.jsonl"
            latencies = asyncio.run(new_decisions_reach_the_page(profile, decisions))
        finally:
            browser.terminate()
            browser.wait(timeout=30)
    finally:
        stop(proc)
    print("decision record -> page (s):", [round(x, 3) for x in latencies])
    assert max(latencies) < LATENCY_LIMIT_S, latencies
