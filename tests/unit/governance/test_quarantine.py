"""Quarantine: each trigger at its threshold (and not below it), what a quarantine refuses or
zeroes and what it never touches, release by bars, by days and by a person's stamp, the
record lines and alert, and the state file a restart reads."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from quantbot.config.quarantine import QuarantineConfig
from quantbot.domain.errors import StartupError
from quantbot.domain.values import Side
from quantbot.governance.quarantine import FILE, Quarantine
from quantbot.signals.base import SleeveSignal
from tests.unit.governance.feed import Book

DAY_NS = 86_400 * 10**9
OFF = QuarantineConfig(min_trades=0, max_stop_outs=0, max_reject_rate=0.0, mode="block",
                       max_breaker_opens=0, max_cancel_loop_blocks=0, duration_bars=5)  # fmt: skip


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.alerts: list[tuple[str, dict[str, Any]]] = []
        self.releases: dict[str, str] = {}

    def write_event(self, event: str, why: Any, **extra: Any) -> None:
        self.events.append((event, {**why.to_record(), **extra}))

    def alert(self, code: Any, **context: Any) -> None:
        self.alerts.append((code.value, context))


def make(
    config: QuarantineConfig, sink: Sink, state_dir: Path | None = None, *, durable: bool = False
) -> Book:
    """``durable``: a paper or live run's quarantine (fsync'd, rewritten per fill); else a
    replay's."""
    kwargs = {"write_event": sink.write_event, "alert": sink.alert,
              "releases": lambda: sink.releases}  # fmt: skip
    if state_dir is None:
        q = Quarantine(config, path=None, **kwargs)
    else:
        q = Quarantine.open(config, state_dir, durable=durable, **kwargs)
    q.on_bar(1 * DAY_NS)
    return Book(q)


def quarantined(b: Book) -> list[tuple[str, str, str]]:
    return [(q.kind, q.name, q.trigger) for q in b.q.active.values()]


# -- triggers -----------------------------------------------------------------------------


def test_negative_expectancy_quarantines_after_min_trades_round_trips() -> None:
    sink = Sink()
    b = make(attrs.evolve(OFF, min_trades=3, expectancy_window_trades=5), sink)
    b.trip("loser", "AAA", "100", "99")
    b.trip("loser", "AAA", "100", "99")
    b.trip("winner", "BBB", "100", "110")
    assert quarantined(b) == []  # two losing trips are not yet min_trades
    b.trip("loser", "AAA", "100", "99")
    assert ("sleeve", "loser", "expectancy") in quarantined(b)
    assert ("sleeve", "winner", "expectancy") not in quarantined(b)
    event, why = sink.events[0]
    assert event == "QUARANTINE" and why["code"] == "SLEEVE_QUARANTINED"
    assert why["metrics"]["trips"] == 3 and why["metrics"]["expectancy_usd"] == -12.0
    assert why["threshold"] == {"min_trades": 3, "window_trades": 5, "expectancy_floor_usd": 0.0}
    assert sink.alerts[0][0] == "SLEEVE_QUARANTINED" and sink.alerts[0][1]["sleeve"] == "loser"


def test_a_positive_expectancy_is_not_quarantined_however_many_trips() -> None:
    b = make(attrs.evolve(OFF, min_trades=3), Sink())
    for _ in range(10):
        b.trip("trend", "AAA", "100", "99")
        b.trip("trend", "AAA", "100", "103")  # -12 and +28 after fees
    assert quarantined(b) == []


def test_repeated_stop_outs_within_the_window_quarantine() -> None:
    b = make(attrs.evolve(OFF, max_stop_outs=3, stop_outs_window_bars=10, symbols=False), Sink())
    for n in range(2):
        b.trip("trend", "AAA", "100", "99", stop=True)
        for k in range(20):  # far apart: never 3 within 10 bars
            b.q.on_bar((2 + 40 * n + k) * DAY_NS)
    b.trip("trend", "AAA", "100", "99", stop=True)
    assert quarantined(b) == []
    b.trip("trend", "AAA", "100", "101", stop=True)
    b.trip("trend", "AAA", "100", "101", stop=True)
    assert quarantined(b) == [("sleeve", "trend", "stop_outs")]


def test_stop_outs_quarantine_on_the_one_that_reaches_the_threshold() -> None:
    b = make(attrs.evolve(OFF, max_stop_outs=2, stop_outs_window_bars=10, symbols=False), Sink())
    b.trip("trend", "AAA", "100", "99", stop=True)
    assert quarantined(b) == []
    b.trip("trend", "AAA", "100", "99", stop=True)
    assert quarantined(b) == [("sleeve", "trend", "stop_outs")]


def test_the_reject_rate_quarantines_once_enough_orders_went() -> None:
    b = make(attrs.evolve(OFF, max_reject_rate=0.5, reject_min_orders=4,
                          reject_window_orders=6, symbols=False), Sink())  # fmt: skip
    b.order("trend", "AAA", outcome="REJECTED")
    b.order("trend", "AAA", outcome="REJECTED")
    b.order("trend", "AAA", outcome="REJECTED")
    assert quarantined(b) == []  # 3 of 3, but fewer than reject_min_orders
    b.order("trend", "AAA")
    assert quarantined(b) == [("sleeve", "trend", "reject_rate")]


def test_repeated_breaker_opens_during_the_sleeves_submits_quarantine() -> None:
    b = make(attrs.evolve(OFF, max_breaker_opens=2, symbols=False), Sink())
    b.order("trend", "AAA", outcome="UNKNOWN", breaker_opened=True)
    assert quarantined(b) == []
    b.order("trend", "AAA", outcome="UNKNOWN", breaker_opened=True)
    assert quarantined(b) == [("sleeve", "trend", "breaker_opens")]


def test_repeated_cancel_loop_blocks_quarantine_the_sleeve_and_the_symbol() -> None:
    sink = Sink()
    b = make(attrs.evolve(OFF, max_cancel_loop_blocks=2), sink)
    for _ in range(2):
        b.order("trend", "AAA", outcome="NOT_SENT", code="CANCEL_LOOP_BLOCK")
    assert sorted(quarantined(b)) == [
        ("sleeve", "trend", "cancel_loop_blocks"),
        ("symbol", "AAA", "cancel_loop_blocks"),
    ]
    assert [why["code"] for _, why in sink.events] == ["SLEEVE_QUARANTINED", "SYMBOL_QUARANTINED"]


def test_a_threshold_of_zero_turns_every_trigger_off() -> None:
    b = make(OFF, Sink())
    for _ in range(30):
        b.trip("trend", "AAA", "100", "90", stop=True)
        b.order("trend", "AAA", outcome="REJECTED", breaker_opened=True)
        b.order("trend", "AAA", outcome="NOT_SENT", code="CANCEL_LOOP_BLOCK")
    assert quarantined(b) == []


# -- what a quarantine does ----------------------------------------------------------------


def test_block_refuses_entries_of_the_sleeve_never_its_reductions_nor_other_sleeves() -> None:
    b = make(attrs.evolve(OFF, max_breaker_opens=1, symbols=False), Sink())
    b.order("loser", "AAA", outcome="UNKNOWN", breaker_opened=True)
    why = b.q.entry_block("loser", "AAA", True)
    assert why is not None and why.code.value == "SLEEVE_QUARANTINED"
    assert why.context["sleeve"] == "loser" and why.context["metrics"]["breaker_opens"] == 1
    assert b.q.entry_block("loser", "AAA", False) is None  # a reduction goes
    assert b.q.entry_block("winner", "AAA", True) is None


def test_a_quarantined_symbol_refuses_every_sleeves_entries_there_only() -> None:
    b = make(attrs.evolve(OFF, max_cancel_loop_blocks=1), Sink())
    b.order("loser", "AAA", outcome="NOT_SENT", code="CANCEL_LOOP_BLOCK")
    why = b.q.entry_block("winner", "AAA", True)
    assert why is not None and why.code.value == "SYMBOL_QUARANTINED"
    assert b.q.entry_block("winner", "BBB", True) is None


def test_zero_targets_zeroes_the_sleeves_signal_and_says_so() -> None:
    b = make(attrs.evolve(OFF, mode="zero_targets", max_breaker_opens=1, symbols=False), Sink())
    b.order("loser", "AAA", outcome="UNKNOWN", breaker_opened=True)
    signals = {"loser": SleeveSignal(0.8, 1.0, True), "winner": SleeveSignal(-0.5, 0.7, True)}
    clamps: list[dict] = []
    out = b.q.zeroed("AAA", signals, clamps)
    assert out["loser"] == SleeveSignal(0.0, 0.0, True)
    assert out["winner"] is signals["winner"]
    assert [(c["code"], c["zeroed"], c["wanted"]) for c in clamps] == [
        ("SLEEVE_QUARANTINED", "loser", 0.8)
    ]
    assert b.q.entry_block("loser", "AAA", True) is None  # zero_targets does not also block


# -- release -------------------------------------------------------------------------------


def test_released_after_duration_bars_then_only_new_outcomes_count() -> None:
    sink = Sink()
    b = make(attrs.evolve(OFF, min_trades=2, expectancy_window_trades=4, duration_bars=3,
                          symbols=False), sink)  # fmt: skip
    b.trip("loser", "AAA", "100", "99")
    b.trip("loser", "AAA", "100", "99")
    assert quarantined(b)
    for day in (2, 3, 4):
        b.q.on_bar(day * DAY_NS)
        assert quarantined(b), f"still quarantined at bar {day}"
    b.q.on_bar(5 * DAY_NS)
    assert quarantined(b) == []
    event, why = sink.events[-1]
    assert event == "QUARANTINE_RELEASED"
    assert (why["sleeve"], why["by"], why["bars"]) == ("loser", "time", 3)
    b.trip("loser", "AAA", "100", "99")  # one new losing trip: not yet min_trades again
    assert quarantined(b) == []


def test_after_a_release_losing_trips_quarantine_though_older_winners_would_hide_them() -> None:
    b = make(attrs.evolve(OFF, min_trades=2, expectancy_window_trades=10, duration_bars=3,
                          symbols=False), Sink())  # fmt: skip
    b.trip("trend", "AAA", "100", "99")
    b.trip("trend", "AAA", "100", "99")  # -12, -12
    assert quarantined(b) == [("sleeve", "trend", "expectancy")]
    for _ in range(3):
        b.trip("trend", "AAA", "100", "110")  # +98 each, while quarantined
    for day in (2, 3, 4, 5):
        b.q.on_bar(day * DAY_NS)
    assert quarantined(b) == []
    b.trip("trend", "AAA", "100", "99")
    assert quarantined(b) == []  # one trip since the release: not yet min_trades
    b.trip("trend", "AAA", "100", "99")  # since the release -12, -12; the whole window: > 0
    assert quarantined(b) == [("sleeve", "trend", "expectancy")]


def test_released_after_duration_days_per_sleeve() -> None:
    sink = Sink()
    config = attrs.evolve(OFF, duration_bars=0, duration_days=10.0, max_breaker_opens=1,
                          duration_days_by_sleeve={"fast": 1.5}, symbols=False)  # fmt: skip
    b = make(config, sink)
    b.order("fast", "AAA", outcome="UNKNOWN", breaker_opened=True)
    b.order("slow", "AAA", outcome="UNKNOWN", breaker_opened=True)
    b.q.on_bar(2 * DAY_NS)
    assert len(quarantined(b)) == 2
    b.q.on_bar(3 * DAY_NS)  # 2 days after the bar it began at: past fast's 1.5
    assert quarantined(b) == [("sleeve", "slow", "breaker_opens")]
    b.q.on_bar(11 * DAY_NS)
    assert quarantined(b) == []


def test_a_release_stamp_releases_the_sleeve_at_its_next_bar() -> None:
    sink = Sink()
    sink.releases = {"loser": "an old stamp"}  # from an earlier quarantine: not this one
    b = make(attrs.evolve(OFF, max_breaker_opens=1, symbols=False), sink)
    b.order("loser", "AAA", outcome="UNKNOWN", breaker_opened=True)
    b.q.on_bar(2 * DAY_NS)
    assert quarantined(b)
    sink.releases = {"loser": "2026-12-07T20:00:00Z"}
    b.q.on_bar(3 * DAY_NS)
    assert quarantined(b) == []
    assert sink.events[-1][1]["by"] == "operator"


# -- state ---------------------------------------------------------------------------------


def test_a_quarantine_and_the_outcomes_survive_a_restart_in_an_owner_only_file(
    tmp_path: Path,
) -> None:
    config = attrs.evolve(OFF, min_trades=2, expectancy_window_trades=4, duration_bars=3,
                          symbols=False)  # fmt: skip
    sink = Sink()
    b = make(config, sink, tmp_path, durable=True)  # a paper or live run: restarted
    b.trip("loser", "AAA", "100", "99")
    b.fill(b.order("winner", "BBB"), "BBB", Side.BUY, "10", "50")  # open across the restart
    path = tmp_path / FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    b.trip("loser", "AAA", "100", "99")
    b.q.close()

    again = make(config, Sink(), tmp_path)
    assert quarantined(again) == [("sleeve", "loser", "expectancy")]
    assert again.q.outcomes.metrics(("sleeve", "loser"))["trips"] == 2
    saved = orjson.loads(path.read_bytes())
    assert saved["active"][0]["until_bar"] == saved["active"][0]["since_bar"] + 3


def test_a_replay_writes_the_state_file_at_close_not_per_fill_and_it_ends_the_same(
    tmp_path: Path,
) -> None:
    """A replay is rerun from its inputs, never restarted: a fill's outcome waits for the
    next rewrite or the one at close (issue 23: a rewrite per fill was a replay's largest
    cost on the order path), and the file it leaves is the one a paper run leaves."""
    config = attrs.evolve(OFF, min_trades=2, expectancy_window_trades=4, duration_bars=3,
                          symbols=False)  # fmt: skip
    files = {}
    for durable in (True, False):
        state = tmp_path / f"durable-{durable}"
        state.mkdir()
        b = make(config, Sink(), state, durable=durable)
        b.trip("loser", "AAA", "100", "99")
        b.fill(b.order("winner", "BBB"), "BBB", Side.BUY, "10", "50")
        assert (state / FILE).exists() is durable  # a paper run's restart must find them
        b.trip("loser", "AAA", "100", "99")  # the second losing trip quarantines
        assert quarantined(b) == [("sleeve", "loser", "expectancy")]
        b.trip("winner", "CCC", "10", "11")  # outcomes after the quarantine
        assert (state / FILE).exists() is durable
        b.q.close()
        files[durable] = (state / FILE).read_bytes()
        assert stat.S_IMODE(os.stat(state / FILE).st_mode) == 0o600
    assert files[False] == files[True]


def test_a_release_stamped_while_stopped_applies_at_start(tmp_path: Path) -> None:
    config = attrs.evolve(OFF, max_breaker_opens=1, symbols=False)
    b = make(config, Sink(), tmp_path)
    b.order("loser", "AAA", outcome="UNKNOWN", breaker_opened=True)
    b.q.close()
    sink = Sink()
    sink.releases = {"loser": "stamped while stopped"}
    again = make(config, sink, tmp_path)
    assert quarantined(again) == []
    assert sink.events == [
        ("QUARANTINE_RELEASED", {"code": "QUARANTINE_RELEASED", "scope": "sleeve",
                                 "sleeve": "loser", "by": "operator",
                                 "trigger": "breaker_opens", "since": sink.events[0][1]["since"],
                                 "bars": 0}),
    ]  # fmt: skip


def test_an_unreadable_state_file_refuses_to_start_naming_it(tmp_path: Path) -> None:
    (tmp_path / FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(StartupError, match=r"quarantine\.json: quarantine state cannot be read"):
        make(OFF, Sink(), tmp_path)
