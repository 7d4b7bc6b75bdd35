"""Venue adapters: the only code that talks to a broker.

``base`` holds the ``OrderVenue`` protocol and its value types; ``sim/`` (the embedded paper
venue), ``ccxt/`` and ``alpaca/`` implement it with the same file names in each.
"""
