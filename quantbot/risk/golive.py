"""The go-live control plane: ``state/go_live.json`` and the checklist that gates it.

``quantbot run --execution-mode live`` refuses to start unless a person has enabled go-live
(after the checklist passed) and the kill switch is off; ``live_start_check`` is that rule.
Like ``state/control.json`` the file is owner-only and written atomically.

The limit ceilings below are sanity ceilings against a typo (an extra zero or three in
``config.toml``), not advice on what to trade: a live config above them does not pass the
checklist. Raise them here, deliberately, if an account really needs more.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import orjson

from quantbot.clock import Clock, LiveClock, iso_utc
from quantbot.config import loader
from quantbot.config.schema import PROFILES, Config, LoadedConfig, read_secret
from quantbot.config.venues import CredentialsConfig
from quantbot.domain.errors import QuantbotError, StartupError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.fsutil import atomic_write, ensure_private_dir, open_private
from quantbot.oms.journal import read_journal
from quantbot.oms.ledger import Ledger
from quantbot.risk.control import ControlStore
from quantbot.risk.golive_history import history_problem, read_history
from quantbot.signals.registry import SleeveDecl
from quantbot.signals.user_code import SleeveCodeError

GO_LIVE_FILE = "go_live.json"
MAX_ORDER_USD_CEILING = Decimal("1000000")  # pretrade.max_order_usd
MAX_ORDER_QTY_CEILING = Decimal("1000000")  # pretrade.max_order_qty
MAX_POSITION_USD_CEILING = 5_000_000.0  # profiles.<name>.max_position_usd


class GoLiveRefused(QuantbotError):
    """Enabling go-live was asked for while the checklist does not pass."""


# -- the checklist ----------------------------------------------------------------------------
@attrs.frozen
class ChecklistItem:
    name: str
    ok: bool
    detail: str


@attrs.frozen
class Checklist:
    items: tuple[ChecklistItem, ...]
    config_hash: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.items) and all(item.ok for item in self.items)

    def missing(self) -> list[str]:
        """One sentence per failed item: what is missing and what to do about it."""
        return [f"{item.name}: {item.detail}" for item in self.items if not item.ok]

    def to_record(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "config_hash": self.config_hash,
            "items": [attrs.asdict(item) for item in self.items],
        }


def run_checklist(
    loaded: LoadedConfig,
    *,
    state_dir: Path,
    runtime_dir: Path,
    environ: Mapping[str, str] | None = None,
) -> Checklist:
    config = loaded.config
    return Checklist(
        items=(
            _config_item(loaded, environ),
            _limits_item(config),
            _reconcile_item(state_dir),
            _history_item(runtime_dir, config, loaded.hash),
            _walk_forward_item(config, runtime_dir),
        ),
        config_hash=loaded.hash,
    )


def _config_item(loaded: LoadedConfig, environ: Mapping[str, str] | None) -> ChecklistItem:
    name = "config check passes"
    venue = loaded.config.venue.name
    if venue == "sim":
        return ChecklistItem(
            name, False, "venue.name = sim: live trading needs a real venue adapter"
        )
    creds = getattr(loaded.config.venue, venue, None)
    if not isinstance(creds, CredentialsConfig):
        return ChecklistItem(name, False, f"venue.{venue}: no credentials section for the venue")
    unnamed = [f"venue.{venue}.{f}" for f in ("key_env", "secret_env") if not getattr(creds, f)]
    if unnamed:
        return ChecklistItem(
            name, False, f"{', '.join(unnamed)} must name the environment variable to read"
        )
    unset = [env for env in (creds.key_env, creds.secret_env) if not read_secret(env, environ)]
    if unset:
        return ChecklistItem(
            name,
            False,
            f"environment variable(s) {', '.join(unset)} named by venue.{venue} are not set",
        )
    where = loaded.path or "<defaults>"
    return ChecklistItem(
        name,
        True,
        f"{where} loads (sha256 {loaded.hash[:12]}); venue {venue} credentials are present",
    )


def _limit_problem(key: str, value: Decimal | float, ceiling: Decimal | float) -> str | None:
    finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
    if not finite:
        return f"{key} = {value} is not finite"
    if value <= 0:
        return f"{key} = {value} must be above zero"
    if value > ceiling:
        return f"{key} = {value} is above the sanity ceiling {ceiling}"
    return None


def _limits_item(config: Config) -> ChecklistItem:
    limits: list[tuple[str, Decimal | float, Decimal | float]] = [
        ("pretrade.max_order_usd", config.pretrade.max_order_usd, MAX_ORDER_USD_CEILING),
        ("pretrade.max_order_qty", config.pretrade.max_order_qty, MAX_ORDER_QTY_CEILING),
    ]
    for profile in PROFILES:
        value = getattr(config.profiles, profile).max_position_usd
        limits.append((f"profiles.{profile}.max_position_usd", value, MAX_POSITION_USD_CEILING))
    problems = [p for key, v, ceiling in limits if (p := _limit_problem(key, v, ceiling))]
    if problems:
        return ChecklistItem("limits set", False, "; ".join(problems))
    shown = ", ".join(f"{key}={value}" for key, value, _ in limits)
    return ChecklistItem("limits set", True, shown)


def _control_problem(state_dir: Path) -> str | None:
    path = state_dir / "control.json"
    try:
        control = ControlStore(path, LiveClock()).load()  # load() never reads the clock
    except (OSError, ValueError, TypeError, AttributeError) as e:
        return f"{path} cannot be read ({type(e).__name__}: {e})"
    if control.kill_switch:
        return f"the kill switch is on ({control.kill_reason}); `quantbot resume` first"
    if control.halt_code:
        return (
            f"trading is halted ({control.halt_code}: {control.halt_detail}, since "
            f"{control.halted_at}); find the cause, then `quantbot resume`"
        )
    if control.reduce_only:  # e.g. set by a reconciliation mismatch
        return (
            f"reduce-only is on ({control.reduce_only_reason}); find the cause, then "
            "`quantbot resume`"
        )
    return None


def _reconcile_item(state_dir: Path) -> ChecklistItem:
    name = "reconciliation clean"
    journal = state_dir / "journal.jsonl"
    try:
        replay = read_journal(journal, repair=False)
        ledger = Ledger.from_journal(replay, journal)
    except StartupError as e:
        return ChecklistItem(name, False, str(e))
    except (QuantbotError, KeyError, TypeError, ValueError, ArithmeticError) as e:
        detail = f"{journal}: the ledger cannot be rebuilt ({type(e).__name__}: {e})"
        return ChecklistItem(name, False, detail)
    problems = []
    if replay.torn_line is not None:
        problems.append(
            f"{journal} ends in a torn line (a crash mid-write); run paper or shadow once "
            "so start-up sets it aside and reconciles"
        )
    if unresolved := ledger.unresolved():
        ids = ", ".join(f"{o.client_order_id} ({o.status.value})" for o in unresolved[:5])
        more = f" and {len(unresolved) - 5} more" if len(unresolved) > 5 else ""
        problems.append(
            f"{len(unresolved)} order(s) with no known submit outcome: {ids}{more}; "
            "reconcile with the venue (start in paper or shadow) first"
        )
    if control := _control_problem(state_dir):
        problems.append(control)
    if problems:
        return ChecklistItem(name, False, "; ".join(problems))
    detail = (
        f"{len(replay.events)} journal events replay, {len(ledger.open_orders())} open "
        "order(s), none unresolved; no halt, kill switch off"
    )
    return ChecklistItem(name, True, detail)


HISTORY_ITEM = "paper or shadow history exists"


def _history_item(runtime_dir: Path, config: Config, config_hash: str) -> ChecklistItem:
    """Enough paper or shadow days and trades of ``config_hash`` (``risk.golive_history``)."""
    gate = config.golive
    live_file = runtime_dir / config.records.decisions_file
    history = read_history(runtime_dir, config.records.decisions_file, config_hash)
    where = f"{live_file} and {live_file.parent / live_file.stem}/"
    problem = history_problem(
        history,
        config_hash,
        min_days=gate.min_history_days,
        min_trades=gate.min_history_trades,
        where=where,
    )
    if problem is not None:
        return ChecklistItem(HISTORY_ITEM, False, problem)
    return ChecklistItem(
        HISTORY_ITEM,
        True,
        f"{len(history.days)} days (min {gate.min_history_days}), {history.trades} trades "
        f"(min {gate.min_history_trades}) of config sha256 {config_hash[:12]} in "
        f"{len(history.runs)} paper or shadow run(s)",
    )


WALK_FORWARD_ITEM = "walk-forward overfitting gate"


def _walk_forward_item(config: Config, runtime_dir: Path) -> ChecklistItem:
    """Every configured sleeve has a walk-forward run of its current kind, params and source
    whose deflated Sharpe ratio and PBO pass ``[golive]`` min_dsr / max_pbo (off by default)."""
    gate = config.golive
    if not gate.require_walk_forward:
        return ChecklistItem(WALK_FORWARD_ITEM, True, "off ([golive] require_walk_forward = false)")
    root = Path(gate.walk_forward_dir) if gate.walk_forward_dir else runtime_dir / "walk_forward"
    summaries = _walk_forward_summaries(root)
    problems, passed = [], []
    for name, decl in config.signals.items():
        ok, verdict = _sleeve_verdict(name, decl, summaries, gate.min_dsr, gate.max_pbo)
        (passed if ok else problems).append(verdict)
    if not config.signals:
        problems.append("no sleeve is configured ([signals.<name>])")
    if problems:
        return ChecklistItem(WALK_FORWARD_ITEM, False, "; ".join(problems))
    return ChecklistItem(WALK_FORWARD_ITEM, True, "; ".join(passed))


def _walk_forward_summaries(root: Path) -> list[tuple[str, dict[str, Any]]]:
    """(id, summary) of every readable ``<root>/<id>/summary.json``, by id."""
    found = []
    for path in sorted(root.glob("*/summary.json")):
        try:
            data = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            continue
        if isinstance(data, dict) and isinstance(data.get("sleeves"), dict):
            found.append((str(data.get("id") or path.parent.name), data))
    return found


def _canonical(value: Any) -> bytes:
    return orjson.dumps(loader.to_plain(value), option=orjson.OPT_SORT_KEYS)


def _sleeve_verdict(
    name: str,
    decl: SleeveDecl,
    summaries: list[tuple[str, dict[str, Any]]],
    min_dsr: float,
    max_pbo: float,
) -> tuple[bool, str]:
    """Whether the sleeve passes, and the sentence that says which run passed or why none."""
    where = f"signals.{name}"
    try:
        sha = decl.code().sha256
    except SleeveCodeError as e:
        return False, f"{where}: its code does not load ({e})"
    stale: list[str] = []
    failing: list[str] = []
    for run_id, summary in summaries:
        entry = summary["sleeves"].get(name)
        if not isinstance(entry, dict):
            continue
        differs = [
            what
            for what, then, now in (
                ("kind", entry.get("kind"), decl.kind),
                ("params", entry.get("params"), decl.params),
                ("source", entry.get("source_sha256"), sha),
            )
            if _canonical(then) != _canonical(now)
        ]
        if differs:
            stale.append(f"{run_id} ran other {'/'.join(differs)}")
            continue
        problem = _overfitting_problem(summary.get("overfitting"), min_dsr, max_pbo)
        if problem is None:
            stats = summary["overfitting"]
            return True, f"{where}: walk-forward {run_id} dsr={stats['dsr']} pbo={stats['pbo']}"
        failing.append(f"{run_id}: {problem}")
    if failing:
        return False, f"{where}: no walk-forward run of it passes ({'; '.join(failing)})"
    if stale:
        return False, (
            f"{where}: no walk-forward run of its current kind, params and source "
            f"({', '.join(stale)}: stale); run `quantbot walk-forward` again"
        )
    return False, f"{where}: no walk-forward run of it; run `quantbot walk-forward` first"


def _overfitting_problem(stats: Any, min_dsr: float, max_pbo: float) -> str | None:
    if not isinstance(stats, dict):
        return "its summary has no overfitting statistics"
    dsr, pbo = stats.get("dsr"), stats.get("pbo")
    problems = []
    if not _number(dsr):
        problems.append(f"dsr is {orjson.dumps(dsr).decode()}, not a number")
    elif dsr < min_dsr:
        problems.append(f"dsr = {dsr} < golive.min_dsr = {min_dsr}")
    if not _number(pbo):
        problems.append(f"pbo is {orjson.dumps(pbo).decode()}, not a number")
    elif pbo > max_pbo:
        problems.append(f"pbo = {pbo} > golive.max_pbo = {max_pbo}")
    if problems and isinstance(stats.get("note"), str):
        problems.append(f"note: {stats['note']}")
    return ", ".join(problems) or None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# -- the persisted switch ---------------------------------------------------------------------
@attrs.frozen
class GoLiveState:
    enabled: bool = False
    enabled_at: str | None = None  # the last time it was enabled (kept after a disable)
    enabled_by_checklist: dict[str, Any] = attrs.field(factory=dict)
    disabled_at: str | None = None
    note: str | None = None
    # `go-live disable --cancel-all`: a running live daemon also cancels its working orders.
    cancel_all: bool = False


class GoLiveStore:
    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self._clock = clock

    def load(self) -> GoLiveState:
        if not self.path.exists():
            return GoLiveState()
        try:
            data = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as e:
            raise self._unreadable(e) from e
        if not isinstance(data, dict):
            raise self._unreadable("not a JSON object")
        checklist = data.get("enabled_by_checklist")
        return GoLiveState(
            enabled=data.get("enabled") is True,  # anything but a real true is "not enabled"
            enabled_at=_text(data.get("enabled_at")),
            enabled_by_checklist=checklist if isinstance(checklist, dict) else {},
            disabled_at=_text(data.get("disabled_at")),
            note=_text(data.get("note")),
            cancel_all=data.get("cancel_all") is True,
        )

    def _unreadable(self, problem: object) -> StartupError:
        return StartupError(
            f"{self.path}: go-live state cannot be read ({problem}); live stays refused. "
            "`quantbot go-live disable` rewrites it"
        )

    def enable(self, checklist: Checklist) -> GoLiveState:
        if not checklist.ok:
            raise GoLiveRefused(
                "go-live checklist does not pass: " + "; ".join(checklist.missing())
            )
        with self._exclusive():
            state = GoLiveState(
                enabled=True,
                enabled_at=iso_utc(self._clock.now_ns()),
                enabled_by_checklist=checklist.to_record(),
            )
            return self._save(state)

    def disable(self, note: str = "", *, cancel_all: bool = False) -> GoLiveState:
        """Always works, also over an unreadable file (that is how one is repaired). A
        running live daemon sees it at its next control poll (``daemon.golive_watch``)."""
        with self._exclusive():
            try:
                previous = self.load()
            except StartupError:
                previous = GoLiveState()
            state = attrs.evolve(
                previous,
                enabled=False,
                disabled_at=iso_utc(self._clock.now_ns()),
                note=note or None,
                cancel_all=cancel_all,
            )
            return self._save(state)

    def _save(self, state: GoLiveState) -> GoLiveState:
        atomic_write(self.path, orjson.dumps(attrs.asdict(state), option=orjson.OPT_INDENT_2))
        return state

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        if not self.path.parent.exists():
            ensure_private_dir(self.path.parent)
        lock = self.path.with_name(self.path.name + ".lock")
        fd = open_private(lock, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing drops the lock


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def live_start_check(state_dir: Path, clock: Clock) -> Reason | None:
    """Why a live run must not start, or None. Called before anything live is wired."""
    control_path = state_dir / "control.json"
    try:
        control = ControlStore(control_path, clock).load()
    except (OSError, ValueError, TypeError, AttributeError) as e:
        return reason(
            ReasonCode.GO_LIVE_NOT_ENABLED,
            problem=f"{control_path} cannot be read ({type(e).__name__})",
        )
    if control.kill_switch:
        return reason(
            ReasonCode.KILL_SWITCH_ACTIVE,
            kill_reason=control.kill_reason,
            killed_at=control.killed_at,
        )
    store = GoLiveStore(state_dir / GO_LIVE_FILE, clock)
    try:
        state = store.load()
    except StartupError as e:
        return reason(ReasonCode.GO_LIVE_NOT_ENABLED, problem=str(e))
    if not state.enabled:
        return reason(
            ReasonCode.GO_LIVE_NOT_ENABLED,
            state_file=str(store.path),
            disabled_at=state.disabled_at,
            hint="`quantbot go-live enable` runs the checklist and enables live",
        )
    return None
