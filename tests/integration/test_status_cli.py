"""`quantbot status` and the status line as an operator sees them: the table and `--json`
while the daemon runs and after it stops, this run's PnL beside the account's, the last line
printed once at stop, and shadow mode counting what it decided."""

from __future__ import annotations

import re
import signal
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import run, start, wait_until

pytestmark = pytest.mark.e2e

PAPER = ("run", "--execution-mode", "paper", "--trading-mode", "aggressive")
LINE = re.compile(r"^\d\d:\d\d:\d\d \[(paper|shadow)\] bars=")


def _json(workdir: Path) -> dict:
    result = run(workdir, "status", "--json")
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


def _status_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if LINE.match(line)]


def _field(line: str, name: str) -> str:
    match = re.search(rf"\b{name}=(\S+)", line)
    assert match, f"{name} not in {line!r}"
    return match.group(1)


def test_status_of_a_running_then_stopped_daemon(workdir: Path) -> None:
    proc = start(workdir, *PAPER, "--duration", "60s")
    snapshot = workdir / "state" / "status.json"
    try:
        wait_until(
            lambda: (
                snapshot.exists()
                and orjson.loads(snapshot.read_bytes())["fills"] > 0
                and bool(orjson.loads(snapshot.read_bytes())["positions"])
            ),
            timeout=30,
            what="a fill and a position in state/status.json",
            proc=proc,
        )
        table = run(workdir, "status")
        shown = _json(workdir)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-3000:]

    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith("daemon    running; trading\n"), table.stdout
    assert "\npositions\n  symbol  qty" in table.stdout, table.stdout
    assert "\nrisk      today (" in table.stdout
    assert shown["daemon_running"] is True and shown["state"] == "trading"
    assert shown["run"]["execution_mode"] == "paper"
    for position in shown["positions"].values():  # as of the last bar: a mark, a PnL in cents
        assert position["mark"] is not None
        assert re.fullmatch(r"-?\d+\.\d\d", position["unrealised_pnl"]), position
        assert re.fullmatch(r"-?\d+\.\d\d", position["realised_pnl"]), position
    assert "last_snapshot" not in shown

    # The last status line says stopped, and it is printed once.
    lines = _status_lines(out)
    assert lines and "state=stopped(trading)" in lines[-1], lines[-3:]
    assert [line for line in lines if "state=stopped" in line] == [lines[-1]]
    assert lines[-1] != lines[-2]

    after = run(workdir, "status")
    assert after.stdout.startswith("daemon    stopped; at next start: trading\n"), after.stdout
    stopped = _json(workdir)
    assert stopped["daemon_running"] is False and stopped["state"] == "stopped"
    assert stopped["trading"] == "trading"


def test_a_second_run_counts_its_own_pnl_beside_the_accounts(workdir: Path) -> None:
    first = run(workdir, *PAPER, "--duration", "3s")
    assert first.returncode == 0, first.stderr[-3000:]
    before = _json(workdir)["run"]
    assert Decimal(before["run_pnl"]) == Decimal(before["account_pnl"])  # a fresh account

    second = run(workdir, *PAPER, "--duration", "3s")
    assert second.returncode == 0, second.stderr[-3000:]
    lines = _status_lines(second.stdout)
    after = _json(workdir)["run"]
    assert after["run_id"] != before["run_id"]
    # The run's pnl counts from this run's start; the account's carries what the first run
    # made (each rounded to the cent on its own: they may differ by one cent).
    carried = Decimal(after["account_pnl"]) - Decimal(after["run_pnl"])
    assert abs(carried - Decimal(before["account_pnl"])) <= Decimal("0.01")
    assert _field(lines[-1], "pnl_run") == _signed(after["run_pnl"])
    assert _field(lines[-1], "pnl_account") == _signed(after["account_pnl"])


def test_shadow_mode_counts_the_orders_it_decided(workdir: Path) -> None:
    result = run(workdir, "run", "--execution-mode", "shadow", "--trading-mode", "aggressive",
                 "--duration", "3s")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    records = [
        orjson.loads(line)
        for line in (workdir / "runtime" / "decisions.jsonl").read_bytes().splitlines()
    ]
    decided = [r for r in records if r.get("intent")]
    assert decided, "three seconds of aggressive shadow trading decided no order"
    last = _status_lines(result.stdout)[-1]
    assert last.split("] ")[0].endswith("[shadow")
    assert int(_field(last, "orders")) == len(decided)


def _signed(amount: str) -> str:
    return amount if amount.startswith("-") else f"+{amount}"
