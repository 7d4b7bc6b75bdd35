"""The embedded paper venue: a deterministic bar-driven matcher with a persistent book.

``venue.py`` is the ``OrderVenue`` adapter, ``matching.py`` the pure fill rules and ``book.py``
the state and its file in ``state/``.
"""

from quantbot.venues.sim.venue import SimVenue

__all__ = ["SimVenue"]
