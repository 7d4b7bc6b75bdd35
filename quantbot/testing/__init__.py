"""Loopback venue servers that speak the real wire protocols (Binance spot REST, Alpaca
trading and data REST), with fault injection. Tests run the real SDKs against them, and a
person can point a paper run at them (``python -m quantbot.testing.binance --port N``)."""
