"""Sizing: turn a netted target and confidence into a signed notional in USD.

``base.Sizer`` is the seam: ``simple.SimpleSizer`` (a fixed fraction of equity with a hard cap)
sits there now; the AI sizer replaces it behind the same one-method protocol.
"""
