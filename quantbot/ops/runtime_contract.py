"""The runtime contract: test doubles are reachable only when ``QUANTBOT_TESTING=1``.

Fault injection, stub sessions and fake venues call ``require_testing`` before they do
anything, so nothing fake can be switched on in a paper or live run by a stray config key or
import. The run manifest records ``test_doubles_reachable`` from the same function.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from quantbot.domain.errors import StartupError

TESTING_ENV = "QUANTBOT_TESTING"


def test_doubles_reachable(environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    return environ.get(TESTING_ENV) == "1"


def require_testing(what: str, environ: Mapping[str, str] | None = None) -> None:
    """Refuse ``what`` (a test double) unless this process runs under QUANTBOT_TESTING=1."""
    if not test_doubles_reachable(environ):
        raise StartupError(
            f"{what} is a test double and is reachable only with {TESTING_ENV}=1; "
            "it can never be part of a paper or live run"
        )


def require_dependency(module: str, purpose: str) -> None:
    """Fail at start, with what to install, when a required package is missing."""
    import importlib  # noqa: PLC0415

    try:
        importlib.import_module(module)
    except ImportError as e:
        raise StartupError(
            f"{purpose} needs the Python package {module!r}, which is not installed "
            f"({e}); run `make install`"
        ) from e
