"""When what the daemon writes reaches the operating system (flush) and the disk (fsync).

A live or paper run makes the journal's INTENT line and the daily guard's RESERVE durable
before the order is sent (DESIGN.md section 4), flushes each step's decision records so
``tail -f`` sees them at once, and fsyncs the rest in batches of ``fsync_every_steps``.

A replay has no broker to disagree with: its venue is the embedded one and a crashed replay
is simply run again from its inputs (its directory is wiped at start). So nothing is fsync'd
per record, nor per change of the venue's book; writes are buffered and reach the disk in
large batches and at close. What is written, and its order, is the same either way: only the
timing of flush and fsync differs.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Durability:
    sync_before_submit: bool  # INTENT and RESERVE lines fsync'd before the order is sent
    flush_every_steps: int  # buffered records pushed to the OS every N steps (1: tail -f)
    fsync_every_steps: int  # and onto the disk every N steps

    def __attrs_post_init__(self) -> None:
        if self.flush_every_steps < 1 or self.fsync_every_steps < 1:
            raise ValueError(f"flush and fsync intervals must be >= 1 step: {self!r}")

    @classmethod
    def live(cls, fsync_every_steps: int) -> Durability:
        """A daemon trading a venue, paper or live: ``[records] fsync_every_steps``."""
        return cls(True, 1, fsync_every_steps)


# Replay: one fsync per 100k bars and at close; the buffered writers flush when full anyway.
REPLAY = Durability(sync_before_submit=False, flush_every_steps=10_000, fsync_every_steps=100_000)
