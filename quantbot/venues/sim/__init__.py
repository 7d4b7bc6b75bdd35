"""The embedded paper venue: a deterministic bar-driven matcher with a persistent book.

``build.py`` makes it from the config, ``venue.py`` is the ``OrderVenue`` adapter,
``matching.py`` the pure fill rules, ``session.py`` its trading hours, ``state.py`` the book
in memory, ``codec.py`` its encodings and ``book.py`` its files in ``state/`` (a snapshot
plus an append-only log).
"""

from quantbot.venues.sim.venue import SimVenue

__all__ = ["SimVenue"]
