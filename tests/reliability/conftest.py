"""The drills run quantbot as a user does: the integration suite's fixtures (a fresh working
directory with the repository's config.toml; no test doubles unless a test asks)."""

from tests.integration.conftest import _no_test_doubles_by_default, workdir

__all__ = ["_no_test_doubles_by_default", "workdir"]
