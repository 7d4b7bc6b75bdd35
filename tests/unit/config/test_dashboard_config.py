"""``[dashboard]``: off by default, a free port by default, and loopback only."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantbot.config.schema import load_config
from quantbot.daemon.views import ViewOptions, build_views
from quantbot.domain.errors import ConfigError


def test_the_dashboard_is_off_unless_asked_for(repo_root: Path, tmp_path: Path) -> None:
    loaded = load_config(repo_root / "config.toml", environ={})
    assert (loaded.config.dashboard.enabled, loaded.config.dashboard.port) == (False, 0)
    assert build_views(loaded, None, tmp_path, tmp_path) == []  # type: ignore[arg-type]
    [view] = build_views(loaded, None, tmp_path, tmp_path, ViewOptions(dashboard=True))  # type: ignore[arg-type]
    assert view.name == "dashboard"
    switched = load_config(None, environ={"QUANTBOT__DASHBOARD__ENABLED": "true"})
    assert [v.name for v in build_views(switched, None, tmp_path, tmp_path)] == ["dashboard"]  # type: ignore[arg-type]


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "localhost"])
def test_any_address_but_loopback_is_refused(tmp_path: Path, host: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[dashboard]\nenabled = true\nhost = "{host}"\n')
    with pytest.raises(ConfigError, match=r"dashboard\.host.*must be one of 127\.0\.0\.1"):
        load_config(path, environ={})
