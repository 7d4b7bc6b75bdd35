"""Go-live as a running live daemon sees it: state/go_live.json changed by `quantbot go-live`
(the store the CLI uses) and what the daemon does about each change."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from quantbot.clock import SimClock
from quantbot.daemon.golive_watch import GoLiveEnforcer, GoLiveWatch
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Side, SubmitOutcome
from quantbot.risk.golive import GO_LIVE_FILE, Checklist, ChecklistItem, GoLiveStore
from tests.unit.decision.test_step import SYMBOL, code, run_to_trigger
from tests.unit.oms.test_manager import Daemon, intent

T0 = 1_763_726_400_000_000_000  # 2025-11-21T12:00:00Z
RUNNING = "a" * 64  # the config hash the daemon runs
OTHER = "b" * 64


def checklist(config_hash: str) -> Checklist:
    return Checklist(items=(ChecklistItem("all", True, "passed"),), config_hash=config_hash)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0)


@pytest.fixture
def store(tmp_path: Path, clock: SimClock) -> GoLiveStore:
    store = GoLiveStore(tmp_path / GO_LIVE_FILE, clock)
    store.enable(checklist("enabled before this watch existed: not asked"))
    return store


def test_enabled_at_start_trades_and_an_unchanged_file_is_not_read_again(store, clock) -> None:
    watch = GoLiveWatch(store.path, clock, RUNNING)
    assert watch.blocked is None
    assert watch.poll() is False  # a stat, nothing read


def test_disable_blocks_with_its_note_at_the_next_poll(store, clock) -> None:
    watch = GoLiveWatch(store.path, clock, RUNNING)
    clock.advance(1.0)
    store.disable("earnings week")
    assert watch.blocked is None  # not before the daemon looks
    assert watch.poll() is True
    assert watch.blocked is not None
    assert watch.blocked.to_record() == {
        "code": "GO_LIVE_DISABLED",
        "disabled_at": "2025-11-21T12:00:01.000000Z",
        "note": "earnings week",
        "hint": "`quantbot go-live enable` (reruns the checklist) lets this daemon trade again",
    }


def test_an_unreadable_file_blocks(store, clock) -> None:
    watch = GoLiveWatch(store.path, clock, RUNNING)
    store.path.write_bytes(b"{not json")
    watch.poll()
    assert watch.blocked is not None
    assert watch.blocked.code is ReasonCode.GO_LIVE_DISABLED
    assert "go-live state cannot be read" in watch.blocked.context["problem"]


def test_enabled_again_for_another_config_stays_blocked_and_says_restart(store, clock) -> None:
    watch = GoLiveWatch(store.path, clock, RUNNING)
    store.disable()
    watch.poll()
    clock.advance(5.0)
    store.enable(checklist(OTHER))
    watch.poll()
    assert watch.blocked is not None
    assert watch.blocked.context["problem"] == (
        "go-live was enabled again at 2025-11-21T12:00:05.000000Z for config sha256 "
        "bbbbbbbbbbbb, but this daemon runs aaaaaaaaaaaa: restart it with the config the "
        "checklist passed on"
    )
    clock.advance(5.0)
    store.enable(checklist(RUNNING))
    watch.poll()
    assert watch.blocked is None


def test_go_live_disabled_blocks_new_risk_but_lets_a_position_shrink() -> None:
    disabled = reason(ReasonCode.GO_LIVE_DISABLED, note="paused")
    opening, _, _, _ = run_to_trigger(blocked_by=disabled)
    assert opening.intent is None
    assert opening.record["reason"] == {"code": "GO_LIVE_DISABLED", "note": "paused"}
    reducing, _, _, _ = run_to_trigger(blocked_by=disabled, positions={SYMBOL: D(1000)})
    assert reducing.intent is not None and reducing.intent.side is Side.SELL
    assert code(reducing) is None


class Rig:
    def __init__(self, store: GoLiveStore, clock: SimClock) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.alerts: list[tuple[ReasonCode, dict[str, Any]]] = []
        self.cancels: list[dict[str, Any]] = []

        async def cancel_all(why: Reason) -> None:
            self.cancels.append(why.to_record())

        self.enforcer = GoLiveEnforcer(
            GoLiveWatch(store.path, clock, RUNNING),
            write_event=lambda event, why, **_: self.events.append((event, why.to_record())),
            alert=lambda code, **context: self.alerts.append((code, context)),
            cancel_all=cancel_all,
        )


async def test_each_disable_is_an_event_and_cancels_only_when_asked(store, clock) -> None:
    rig = Rig(store, clock)
    store.disable("no cancel")
    await rig.enforcer.poll()
    await rig.enforcer.poll()  # nothing changed: nothing more
    assert [event for event, _ in rig.events] == ["GO_LIVE_DISABLED"]
    assert [(c, ctx["note"]) for c, ctx in rig.alerts] == [
        (ReasonCode.ALERT_GO_LIVE_DISABLED, "no cancel")
    ]
    assert rig.cancels == []
    clock.advance(1.0)
    store.disable("now cancel", cancel_all=True)  # disabled again, with --cancel-all
    await rig.enforcer.poll()
    assert rig.cancels == [{"code": "CANCEL_ALL_TRIGGERED", "trigger": "go_live_disable"}]
    assert [why["note"] for _, why in rig.events] == ["no cancel", "now cancel"]
    assert len(rig.alerts) == 1  # one alert while it stays disabled
    clock.advance(1.0)
    store.enable(checklist(RUNNING))
    await rig.enforcer.poll()
    assert rig.events[-1] == (
        "GO_LIVE_ENABLED",
        {
            "code": "OPERATOR_RESUMED",
            "was": "GO_LIVE_DISABLED",
            "enabled_at": "2025-11-21T12:00:02.000000Z",
        },
    )
    assert len(rig.cancels) == 1


async def test_a_disable_before_the_watch_began_is_told_at_the_first_poll(store, clock) -> None:
    store.disable("between the start check and the watch", cancel_all=True)
    rig = Rig(store, clock)
    await rig.enforcer.poll()
    assert [event for event, _ in rig.events] == ["GO_LIVE_DISABLED"]
    assert len(rig.alerts) == len(rig.cancels) == 1


async def test_enabled_for_another_config_says_so_in_a_record(store, clock) -> None:
    rig = Rig(store, clock)
    store.disable()
    await rig.enforcer.poll()
    clock.advance(1.0)
    store.enable(checklist(OTHER))
    await rig.enforcer.poll()
    assert [event for event, _ in rig.events] == ["GO_LIVE_DISABLED", "GO_LIVE_DISABLED"]
    assert "restart it with the config the checklist passed on" in rig.events[-1][1]["problem"]
    assert len(rig.alerts) == 1  # one alert per disable


async def test_a_disable_since_the_decision_is_refused_at_submit(tmp_path, store, clock) -> None:
    # The OMS as the live daemon wires it: the watch asked again right before the submit.
    (tmp_path / "oms").mkdir()
    daemon = Daemon(tmp_path / "oms")
    oms = daemon.start()
    watch = GoLiveWatch(store.path, clock, RUNNING)
    oms.blocks_new_risk = lambda: watch.blocked
    assert (await oms.submit(intent("c1"))).outcome is SubmitOutcome.ACCEPTED
    store.disable("mid-flight")
    watch.poll()
    report = await oms.submit(intent("c2"))
    assert report.outcome is SubmitOutcome.NOT_SENT
    assert report.reason is not None and report.reason.code is ReasonCode.GO_LIVE_DISABLED
    assert [o.client_order_id for o in await daemon.venue.open_orders()] == ["c1"]
    # An order that only shrinks the position still goes.
    closing = await oms.submit(intent("c3", Side.SELL, "5"), reducing=True)
    assert closing.outcome is SubmitOutcome.ACCEPTED
    daemon.close()
