"""Crypto exchanges through ccxt: spot, or USD-M perpetuals with leverage. ``build.py`` makes
the adapter (``venue.CcxtVenue``) and imports ccxt only then, so the default (sim) path never
loads it."""
