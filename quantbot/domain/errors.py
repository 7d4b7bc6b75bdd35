"""Exceptions that carry what the operator must do. Vendor errors are translated at the venue
boundary into these (the full taxonomy arrives with the fail-closed OMS work)."""

from __future__ import annotations


class QuantbotError(Exception):
    """Base for every error quantbot raises on purpose."""


class ConfigError(QuantbotError):
    """Bad configuration: names the file, key path, offending value and line when known."""


class StartupError(QuantbotError):
    """The daemon cannot start safely (lock held, corrupt journal, missing dependency)."""


class InvariantViolation(QuantbotError):
    """A value that must never exist did (NaN, negative price, overfill): trading halts."""


class DataError(QuantbotError):
    """Input data that cannot be read, with file and line."""
