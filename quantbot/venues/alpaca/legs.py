"""Which of our client ids each OCO sent to Alpaca carries, by role.

Alpaca takes an OCO as one order: the parent is the take-profit limit (it carries our
take-profit's client id) and the stop-loss is its leg, whose client id Alpaca makes up. Our
stop-loss client id therefore lives here: one line per OCO, ``{"take_profit": id,
"stop_loss": id, "oco_group": g}``, made durable (fsync) before the order is sent. Any
adapter, after a restart too, finds the stop leg by our id through its parent and its role,
and names the leg by our id in every order and fill it reads. A last line cut short by a
crash was never followed by a send (the fsync comes first), so it is set aside; a bad line
anywhere else means the file is not ours to trust, and the adapter refuses to start.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import orjson
from loguru import logger

from quantbot.domain.errors import StartupError
from quantbot.fsutil import open_private_file, read_private

FILE_NAME = "alpaca_oco_links.jsonl"


@attrs.frozen(slots=True)
class OcoLink:
    take_profit: str  # our client id, also the parent's at Alpaca
    stop_loss: str  # our client id for the leg Alpaca names itself
    oco_group: str | None


class OcoLinks:
    """The links, in memory and (given a path) in a file under ``state/``."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._by_parent: dict[str, OcoLink] = {}
        self._by_stop: dict[str, OcoLink] = {}
        if path is not None and path.exists():
            for link in _read(path):
                self._index(link)

    def __len__(self) -> int:
        return len(self._by_parent)

    def links(self) -> list[OcoLink]:
        return list(self._by_parent.values())

    def by_parent(self, client_order_id: str) -> OcoLink | None:
        return self._by_parent.get(client_order_id)

    def by_stop(self, client_order_id: str) -> OcoLink | None:
        return self._by_stop.get(client_order_id)

    def add(self, link: OcoLink) -> None:
        """Keep ``link``, durably, before the OCO it names is sent (again: a no-op)."""
        if self._by_parent.get(link.take_profit) == link:
            return
        if self._path is not None:
            line = orjson.dumps(attrs.asdict(link)) + b"\n"
            with open_private_file(self._path, "ab") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
        self._index(link)

    def _index(self, link: OcoLink) -> None:
        self._by_parent[link.take_profit] = link
        self._by_stop[link.stop_loss] = link


def _read(path: Path) -> list[OcoLink]:
    lines = read_private(path).split(b"\n")
    links: list[OcoLink] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
            links.append(OcoLink(str(row["take_profit"]), str(row["stop_loss"]), row["oco_group"]))
        except (orjson.JSONDecodeError, KeyError, TypeError) as e:
            if n == len(lines):  # unterminated: cut short before its OCO was ever sent
                logger.warning("alpaca: {}:{} cut short; set aside ({})", path, n, e)
                continue
            raise StartupError(f"{path}:{n}: not an OCO link ({e}); fix or remove it") from e
    return links
