"""Crypto exchanges through ccxt: spot, or USD-M perpetuals with leverage. Imported lazily
by the venue factory, so the default (sim) path never loads ccxt."""

from quantbot.venues.ccxt.venue import CcxtVenue

__all__ = ["CcxtVenue"]
