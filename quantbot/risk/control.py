"""Control state in ``state/control.json``: halt reason, kill switch, reduce-only, and the
symbols a throttle disabled.

All survive restarts until a person runs ``quantbot resume`` (``resume --symbol SYM`` for a
disabled symbol). The file is owner-only and written atomically under an flock, so the daemon
and the CLI can share it; the daemon polls it (``control.poll_interval_s``), so a kill takes
effect within a second.

A file that cannot be read (not JSON, not an object, a field of the wrong type) is never
guessed at: ``load`` raises ``ControlFileError`` naming the file, line and column, so the
daemon refuses to start and ``status``/``kill``/``resume`` refuse to act on it (a kill or
resume written over it would drop a halt or a disabled symbol nobody can see any more).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import orjson

from quantbot.clock import Clock, iso_utc
from quantbot.domain.errors import StartupError
from quantbot.fsutil import atomic_write, open_private

_FIX = "repair it by hand or move it aside (it holds the kill switch, halt and disabled symbols)"


class ControlFileError(StartupError, ValueError):
    """``state/control.json`` cannot be read; the message names the file, line and column.

    A ``ValueError`` too, so callers that treat any unreadable control file as "not ready"
    (the go-live checklist) keep doing so."""


@attrs.frozen
class ControlState:
    halt_code: str | None = None
    halt_detail: str | None = None
    halted_at: str | None = None
    kill_switch: bool = False
    kill_reason: str | None = None
    killed_at: str | None = None
    kill_cancel_all: bool = False  # the kill asked for every working order to be cancelled
    reduce_only: bool = False
    reduce_only_reason: str | None = None
    disabled_symbols: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    # When a person last ran `quantbot resume` (all) and `resume --sleeve NAME` (per sleeve):
    # the daemon applies a stamp it has not applied yet (the drawdown breaker's trips clear).
    resumed_at: str | None = None
    sleeve_resumes: dict[str, str] = attrs.field(factory=dict)
    # `quantbot resume --sleeve NAME`: sleeve -> when its quarantine was last released early
    # (governance/quarantine compares it with the stamp it saw when the quarantine began).
    sleeve_releases: dict[str, str] = attrs.field(factory=dict)

    @property
    def blocks_new_risk(self) -> bool:
        return self.kill_switch or self.halt_code is not None or self.reduce_only

    def describe(self) -> str:
        if self.kill_switch:
            return f"KILLED ({self.kill_reason})"
        if self.halt_code:
            return f"HALTED {self.halt_code}"
        if self.reduce_only:
            return f"REDUCE_ONLY ({self.reduce_only_reason})"
        return "trading"


class ControlStore:
    def __init__(self, path: Path, clock: Clock, *, watch: bool = True) -> None:
        self.path = path
        self._clock = clock
        # False: nobody else writes this file (a replay, which no operator controls), so
        # ``cached`` reads it once and again only after this store's own saves.
        self._watch = watch
        self._cached: ControlState | None = None
        self._stamp: tuple[int, ...] | None = None

    @property
    def cached(self) -> ControlState:
        """The state as of the last change on disk; cheap enough for every decision step.

        The CLI (`quantbot kill`) writes the same file, so a change made by a person reaches
        the running daemon at its next decision without a socket.
        """
        if self._cached is not None and not self._watch:
            return self._cached
        stamp = self._file_stamp()
        if self._cached is None or stamp != self._stamp:
            self._cached = self.load()
            self._stamp = stamp
        return self._cached

    def _file_stamp(self) -> tuple[int, ...]:
        # mtime alone misses a second write within one filesystem timestamp tick (a few ms on
        # ext4), e.g. `quantbot kill` just after the daemon wrote a halt. Every save is a new
        # file (atomic_write renames over it), so the inode and change time move with it.
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return ()
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def load(self) -> ControlState:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return ControlState()
        except OSError as e:
            raise ControlFileError(f"{self.path}: cannot be read ({e.strerror}); {_FIX}") from e
        return parse_control(self.path, raw)

    def save(self, state: ControlState) -> ControlState:
        atomic_write(self.path, orjson.dumps(attrs.asdict(state), option=orjson.OPT_INDENT_2))
        self._cached = None
        return state

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Read-modify-write under an flock, so a daemon's halt and a person's kill made at
        the same moment cannot overwrite each other."""
        fd = open_private(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing drops the lock

    def halt(self, code: str, detail: str) -> ControlState:
        with self._exclusive():
            state = self.load()
            if state.halt_code is not None:
                return state  # the first halt reason is the one that matters
            now = iso_utc(self._clock.now_ns())
            halted = attrs.evolve(state, halt_code=code, halt_detail=detail, halted_at=now)
            return self.save(halted)

    def kill(self, reason: str, *, cancel_all: bool = False) -> ControlState:
        with self._exclusive():
            now = iso_utc(self._clock.now_ns())
            state = attrs.evolve(
                self.load(),
                kill_switch=True,
                kill_reason=reason,
                killed_at=now,
                kill_cancel_all=cancel_all,
            )
            return self.save(state)

    def set_reduce_only(self, reason: str) -> ControlState:
        with self._exclusive():
            state = self.load()
            if state.reduce_only:
                return state
            return self.save(attrs.evolve(state, reduce_only=True, reduce_only_reason=reason))

    def disable_symbol(self, symbol: str) -> ControlState:
        with self._exclusive():
            state = self.load()
            if symbol in state.disabled_symbols:
                return state
            symbols = tuple(sorted({*state.disabled_symbols, symbol}))
            return self.save(attrs.evolve(state, disabled_symbols=symbols))

    def enable_symbol(self, symbol: str) -> ControlState:
        with self._exclusive():
            state = self.load()
            symbols = tuple(s for s in state.disabled_symbols if s != symbol)
            return self.save(attrs.evolve(state, disabled_symbols=symbols))

    def resume(self) -> ControlState:
        """Clear kill switch, halt and reduce-only, and stamp ``resumed_at`` (the drawdown
        breaker clears); disabled symbols stay disabled."""
        with self._exclusive():
            state = self.load()
            now = iso_utc(self._clock.now_ns())
            return self.save(
                ControlState(
                    disabled_symbols=state.disabled_symbols,
                    resumed_at=now,
                    sleeve_resumes=state.sleeve_resumes,
                    sleeve_releases=state.sleeve_releases,
                )
            )

    def resume_sleeve(self, sleeve: str) -> ControlState:
        """Stamp one sleeve resumed (its drawdown trip clears); nothing else changes."""
        with self._exclusive():
            state = self.load()
            stamps = {**state.sleeve_resumes, sleeve: iso_utc(self._clock.now_ns())}
            return self.save(attrs.evolve(state, sleeve_resumes=stamps))

    def release_sleeve(self, sleeve: str) -> ControlState:
        """Stamp an early release of ``sleeve``'s quarantine; the daemon applies it at its
        next bar, or at its next start if it is not running."""
        with self._exclusive():
            state = self.load()
            stamp = iso_utc(self._clock.now_ns())
            if state.sleeve_releases.get(sleeve) == stamp:  # two in one clock tick
                stamp += "+"
            releases = {**state.sleeve_releases, sleeve: stamp}
            return self.save(attrs.evolve(state, sleeve_releases=releases))


_TEXT_FIELDS = (
    "halt_code",
    "halt_detail",
    "halted_at",
    "kill_reason",
    "killed_at",
    "reduce_only_reason",
    "resumed_at",
)
_FLAG_FIELDS = ("kill_switch", "kill_cancel_all", "reduce_only")


def parse_control(path: Path, raw: bytes) -> ControlState:
    """The state in ``raw`` (the bytes of ``path``), or ``ControlFileError`` naming the file,
    line and column of what is wrong. Keys this version does not know are ignored."""
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ControlFileError(
            f"{path}:{e.lineno}:{e.colno}: not valid JSON ({e.msg}); {_FIX}"
        ) from e
    if not isinstance(data, dict):
        raise ControlFileError(
            f"{path}:1:1: must be a JSON object, found {type(data).__name__}; {_FIX}"
        )
    text = raw.decode("utf-8", errors="replace")
    for key in _FLAG_FIELDS:
        if key in data and not isinstance(data[key], bool):
            raise _bad_field(path, text, key, data[key], "must be true or false")
    for key in _TEXT_FIELDS:
        if key in data and not (data[key] is None or isinstance(data[key], str)):
            raise _bad_field(path, text, key, data[key], "must be a string or null")
    symbols = data.get("disabled_symbols", [])
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        raise _bad_field(path, text, "disabled_symbols", symbols, "must be a list of symbols")
    stamps = data.get("sleeve_resumes", {})
    if not isinstance(stamps, dict) or not all(isinstance(v, str) for v in stamps.values()):
        raise _bad_field(path, text, "sleeve_resumes", stamps, "must map sleeves to times")
    releases = data.get("sleeve_releases", {})
    if not isinstance(releases, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in releases.items()
    ):
        raise _bad_field(path, text, "sleeve_releases", releases, "must map sleeves to stamps")
    known = {f.name for f in attrs.fields(ControlState)}
    return ControlState(**{k: v for k, v in data.items() if k in known})


def _bad_field(path: Path, text: str, key: str, value: Any, problem: str) -> ControlFileError:
    needle = f'"{key}"'
    for number, line in enumerate(text.splitlines(), start=1):
        column = line.find(needle)
        if column >= 0:
            where = f"{path}:{number}:{column + 1}"
            break
    else:
        where = str(path)
    return ControlFileError(f"{where}: {key} = {value!r}: {problem}; {_FIX}")
