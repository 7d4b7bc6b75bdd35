"""One channel's queue of notices: bounded, with a drop rule, taken out in batches.

Past ``size`` the oldest notice of the lowest priority goes (a fill before a round trip or
an alert, those before a halt, kill, resume, start, stop or daily summary), and is counted:
the next message starts with "N events dropped". A batch is as many notices (oldest first)
as fit in ``max_lines`` lines and the channel's ``max_chars``.
"""

from __future__ import annotations

import asyncio
from collections import deque

import attrs

from quantbot.notify.digest import Notice

TRUNCATED = " [...]"


@attrs.frozen
class Batch:
    notices: tuple[Notice, ...]
    dropped: int  # events dropped before these (the first line says so)

    def lines(self) -> list[str]:
        head = [f"({self.dropped} events dropped: too many to send)"] if self.dropped else []
        return head + [n.text for n in self.notices]

    def text(self) -> str:
        return "\n".join(self.lines())


class Outbox:
    def __init__(self, size: int) -> None:
        self._size = size
        self._items: deque[Notice] = deque()
        self.dropped = 0  # not told yet
        self.dropped_total = 0
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, notice: Notice) -> None:
        if len(self._items) >= self._size:
            self._drop_one()
        self._items.append(notice)
        self._ready.set()

    def _drop_one(self) -> None:
        lowest = min(n.priority for n in self._items)
        for i, n in enumerate(self._items):
            if n.priority == lowest:
                del self._items[i]
                break
        self.dropped += 1
        self.dropped_total += 1

    async def wait(self) -> None:
        """Until something is queued."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()

    def take(self, max_lines: int, max_chars: int) -> Batch | None:
        """The next batch (oldest first), or None when nothing waits."""
        if not self._items and not self.dropped:
            return None
        dropped, self.dropped = self.dropped, 0
        taken: list[Notice] = []
        used = len(f"({dropped} events dropped: too many to send)") + 1 if dropped else 0
        while self._items and len(taken) < max_lines:
            notice = self._items[0]
            if len(notice.text) + 1 > max_chars - used:
                if taken:
                    break
                cut = max(0, max_chars - used - len(TRUNCATED) - 1)
                notice = attrs.evolve(notice, text=notice.text[:cut] + TRUNCATED)
            self._items.popleft()
            taken.append(notice)
            used += len(notice.text) + 1
        return Batch(tuple(taken), dropped)

    def put_back(self, batch: Batch) -> None:
        """A batch that could not go: first in line again (still subject to the drop rule)."""
        self.dropped += batch.dropped
        for notice in reversed(batch.notices):
            self._items.appendleft(notice)
        while len(self._items) > self._size:
            self._drop_one()
        self._ready.set()

    def clear(self) -> int:
        """Give up what waits; returns how many notices that was."""
        n = len(self._items)
        self._items.clear()
        self.dropped = 0
        return n
