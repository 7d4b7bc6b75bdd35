"""What every real venue's builder checks before it makes an adapter: credentials only from
the environment variables the config names (a missing or empty one stops start-up naming the
variable, never showing a value), the account matching the execution mode, and its SDK
importable."""

from __future__ import annotations

from collections.abc import Mapping

from quantbot.config.schema import read_secret
from quantbot.config.venues import CredentialsConfig
from quantbot.domain.errors import StartupError


def credentials(
    creds: CredentialsConfig, venue: str, environ: Mapping[str, str]
) -> tuple[str, str]:
    """The key and secret from the environment variables ``creds`` names, or a StartupError
    naming each variable that is not set (never the values)."""
    problems = []
    values = []
    for name, field in ((creds.key_env, "key_env"), (creds.secret_env, "secret_env")):
        value = read_secret(name, environ) if name else None
        if not name:
            problems.append(f"venue.{venue}.{field} names no environment variable")
        elif value is None:
            problems.append(f"environment variable {name} (venue.{venue}.{field}) is not set")
        values.append(value or "")
    if problems:
        raise StartupError(f"venue.name = {venue} needs credentials: " + "; ".join(problems))
    return values[0], values[1]


def paper_or_live(mode: str, venue: str, *, test_endpoint: bool, switch: str) -> None:
    """Paper must never reach a live account, nor live a test one (``switch`` is the
    section's key that picks the test endpoint)."""
    if mode == "paper" and not test_endpoint:
        raise StartupError(
            f"--execution-mode paper with venue.{venue}.{switch} = false would trade a live "
            f"account; set venue.{venue}.{switch} = true for paper"
        )
    if mode == "live" and test_endpoint:
        raise StartupError(
            f"--execution-mode live with venue.{venue}.{switch} = true would trade a test "
            f"account; set venue.{venue}.{switch} = false for live"
        )


def import_failed(venue: str, package: str, exc: ImportError) -> StartupError:
    return StartupError(
        f"venue.name = {venue} needs the {package} package, which cannot be imported "
        f"({exc}); install it with `make install`"
    )
