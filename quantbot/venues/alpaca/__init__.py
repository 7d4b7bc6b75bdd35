"""Alpaca (US equities) through alpaca-py. ``build.py`` makes the adapter
(``venue.AlpacaVenue``) and imports the SDK only then: the default (embedded paper venue)
path never loads it."""
