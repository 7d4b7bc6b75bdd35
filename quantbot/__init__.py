"""quantbot: a single-process asyncio trading daemon that can explain every order it sends."""

__version__ = "0.1.0"
