"""Venue adapters: the only code that talks to a broker.

``base`` holds the ``OrderVenue`` protocol (with the embedded venue's extras,
``EmbeddedVenue``) and its value types; ``sim/`` (the embedded paper venue), ``ccxt/`` and
``alpaca/`` implement it with the same file names in each, and each builds itself
(``build.py``). ``registry`` is the table of them by ``venue.name``; ``factory`` builds the
configured one.
"""
