"""Case 35: a missing limit, or a whole missing ``[pretrade]`` section, no longer silently
takes a default. A live run refuses to start (exit 2, before go-live is even looked at) and
names every missing key by file and section; ``config check`` lists them; a paper run may
default them and says which in its manifest."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import REPO_ROOT, run

pytestmark = pytest.mark.e2e

LIVE = ("run", "--execution-mode", "live", "--duration", "2s")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(REPO_ROOT / "config.toml", tmp_path / "config.toml")
    return tmp_path


def _without_limits(workdir: Path) -> None:
    """The [pretrade] section gone entirely, and one daily loss limit deleted."""
    path = workdir / "config.toml"
    text = path.read_text()
    text = re.sub(r"(?ms)^\[pretrade\]\n.*?(?=^\[oms\])", "", text)
    loss = "[daily_risk.conservative.total]\nmax_daily_loss_usd = 1000.0\n"
    assert loss in text
    text = text.replace(loss, "[daily_risk.conservative.total]\n")
    path.write_text(text)


def test_live_names_every_missing_limit_by_file_and_section_and_exits_2(workdir: Path) -> None:
    _without_limits(workdir)
    for args in (LIVE, ("config", "check", "--execution-mode", "live")):
        result = run(workdir, *args)
        err = result.stderr
        assert result.returncode == 2, (args, result.returncode, err)
        assert "live execution needs every limit stated" in err, err
        assert "config.toml: [daily_risk.conservative.total] max_daily_loss_usd" in err, err
        pretrade = re.search(r"config\.toml: \[pretrade\] (.*)", err)
        assert pretrade is not None, err
        named = set(pretrade.group(1).split(", "))
        assert {"max_order_usd", "max_order_qty", "collar_bps", "max_cancels_per_min"} <= named
        # The test helper sets the message rates through the environment: stated, not named.
        assert "max_orders_per_min" not in named
        assert {"max_quote_age_s", "max_collar_blocks", "max_data_age_s"} <= named
        assert "allowed_symbols" not in named and "canary_symbols" not in named
        assert "GO_LIVE" not in err  # refused with the config, before the go-live check
        assert "Traceback" not in err
    assert not (workdir / "state").exists()


def test_config_check_and_the_paper_manifest_list_the_defaulted_limits(workdir: Path) -> None:
    _without_limits(workdir)
    check = run(workdir, "config", "check")
    assert check.returncode == 0, check.stderr
    defaulted = orjson.loads(check.stdout)["defaulted_limits"]
    assert "pretrade.max_order_usd" in defaulted
    assert "daily_risk.conservative.total.max_daily_loss_usd" in defaulted
    assert "daily_risk.conservative.total.max_open_risk_usd" not in defaulted  # still stated

    paper = run(workdir, "run", "--execution-mode", "paper", "--duration", "1s")
    assert paper.returncode == 0, paper.stderr[-2000:]
    [manifest] = (workdir / "runtime" / "manifests").glob("*.json")
    assert orjson.loads(manifest.read_bytes())["defaulted_limits"] == defaulted


def test_the_shipped_config_states_every_limit(workdir: Path) -> None:
    check = run(workdir, "config", "check", "--execution-mode", "live")
    assert check.returncode == 0, check.stderr
    assert orjson.loads(check.stdout)["defaulted_limits"] == []
    # An environment override is an explicit statement too (and is named in the manifest).
    path = workdir / "config.toml"
    path.write_text(path.read_text().replace('max_order_qty = "10000"\n', ""))
    check = run(workdir, "config", "check", env={"QUANTBOT__PRETRADE__MAX_ORDER_QTY": "5"})
    assert check.returncode == 0 and orjson.loads(check.stdout)["defaulted_limits"] == []
    live = run(workdir, *LIVE)
    assert live.returncode == 2 and "[pretrade] max_order_qty" in live.stderr, live.stderr
