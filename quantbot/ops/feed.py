"""What a running daemon tells whoever watches it in-process: the operator's views
(notifications, the dashboard) subscribe here instead of reaching into the parts.

Each item is ``(kind, payload)``:

- ``"record"``: a decision record or an event record (``HALT``, ``KILL``, ``EXIT_DONE`` ...),
  as written to ``runtime/records/decisions.jsonl``;
- ``"journal"``: an order journal event (``INTENT``, ``ACK``, ``FILL``, ``CANCELED`` ...), as
  appended to ``state/journal.jsonl``;
- ``"alert"``: an alert line, as written to ``runtime/alerts.jsonl``;
- ``"status"``: the status snapshot each time the daemon reports it (``StatusSnapshot``'s
  JSON, as in ``state/status.json``);
- ``"run"``: the daemon's life: ``{"phase": "started" | "stopped", "run_id", "ts", ...}``
  (started once the daemon is up; stopped after everything is flushed, just before the views
  stop).

Publishing is on the trading path, so a subscriber must only take the item (append it to its
own bounded queue) and return; its real work (a POST, a page update) runs on its own task. A
subscriber that raises is cut off with one error in the log: a broken view never stops
trading (this module is, with the supervisor, a place that catches whatever a callee raises).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loguru import logger

Subscriber = Callable[[str, dict[str, Any]], None]

KINDS = frozenset({"record", "journal", "alert", "status", "run"})


class RunFeed:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)

    @property
    def watched(self) -> bool:
        return bool(self._subscribers)

    def publish(self, kind: str, payload: dict[str, Any]) -> None:
        for subscriber in tuple(self._subscribers):
            try:
                subscriber(kind, payload)
            except Exception as e:  # noqa: BLE001 -- a broken view must not stop trading
                self.unsubscribe(subscriber)
                logger.error(
                    "operator view {} failed on a {} item and is cut off: {}",
                    getattr(subscriber, "__qualname__", subscriber),
                    kind,
                    type(e).__name__,
                )

    # Bound publishers for the parts that only know "a callable that takes one item".
    def records(self, record: dict[str, Any]) -> None:
        self.publish("record", record)

    def journal(self, event: dict[str, Any]) -> None:
        self.publish("journal", event)

    def alerts(self, alert: dict[str, Any]) -> None:
        self.publish("alert", alert)
