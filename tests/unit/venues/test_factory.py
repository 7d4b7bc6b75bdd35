"""Which venue a run gets: credentials only from the environment (a missing one is named,
its value never shown), paper never on a live account nor live on a test one, and a real
venue's SDK imported only when that venue is configured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from quantbot.clock import SimClock
from quantbot.config.schema import load_config
from quantbot.domain.errors import StartupError
from quantbot.ops.runtime_contract import TESTING_ENV
from quantbot.venues.access import credentials
from quantbot.venues.base import OrderVenue
from quantbot.venues.factory import account_mode, make_venue
from quantbot.venues.sim.build import FAULTS_ENV

REPO = Path(__file__).resolve().parents[3]


def _config(**env: str):
    return load_config(None, environ={"QUANTBOT__MARKET__SOURCE": "venue", **env}).config


@pytest.mark.parametrize(
    ("venue", "key_var", "secret_var"),
    [
        ("ccxt", "QUANTBOT_CCXT_API_KEY", "QUANTBOT_CCXT_SECRET"),
        ("alpaca", "APCA_API_KEY_ID", "APCA_API_SECRET_KEY"),
    ],
)
def test_missing_credentials_stop_start_up_naming_the_variable(
    tmp_path: Path, venue: str, key_var: str, secret_var: str
) -> None:
    config = _config(QUANTBOT__VENUE__NAME=venue)
    secret = "s3cr3t-value-never-shown"
    with pytest.raises(StartupError) as err:
        make_venue(
            config,
            mode="paper",
            clock=SimClock(0),
            state_dir=tmp_path,
            environ={key_var: secret, secret_var: ""},  # an empty value counts as missing
        )
    message = str(err.value)
    assert f"environment variable {secret_var} (venue.{venue}.secret_env) is not set" in message
    assert key_var not in message  # the one that is set is not complained about
    assert secret not in message


def test_credentials_come_back_from_the_named_variables() -> None:
    config = _config(QUANTBOT__VENUE__NAME="ccxt")
    environ = {"QUANTBOT_CCXT_API_KEY": "k", "QUANTBOT_CCXT_SECRET": "s"}
    assert credentials(config.venue.ccxt, "ccxt", environ) == ("k", "s")


@pytest.mark.parametrize(
    ("env", "mode", "problem"),
    [
        ({"QUANTBOT__VENUE__CCXT__SANDBOX": "false"}, "paper", "would trade a live account"),
        ({}, "live", "would trade a test account"),
        (
            {"QUANTBOT__VENUE__NAME": "alpaca", "QUANTBOT__VENUE__ALPACA__PAPER": "false"},
            "paper",
            "venue.alpaca.paper = true for paper",
        ),
    ],
)
def test_paper_never_reaches_a_live_account_nor_live_a_test_one(
    tmp_path: Path, env: dict[str, str], mode: str, problem: str
) -> None:
    config = _config(**{"QUANTBOT__VENUE__NAME": "ccxt", **env})
    with pytest.raises(StartupError, match=problem):
        make_venue(config, mode=mode, clock=SimClock(0), state_dir=tmp_path, environ={})


def test_cancel_all_without_a_daemon_uses_the_accounts_own_mode() -> None:
    assert account_mode(load_config(None).config) == "paper"
    live = _config(QUANTBOT__VENUE__NAME="ccxt", QUANTBOT__VENUE__CCXT__SANDBOX="false")
    assert account_mode(live) == "live"


def test_the_embedded_venue_never_imports_a_real_venues_sdk() -> None:
    # ccxt alone takes about a second to import; the default start must not pay for it.
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "import quantbot.cli.main, quantbot.daemon.daemon\n"
        "from quantbot.clock import LiveClock\n"
        "from quantbot.config.schema import load_config\n"
        "from quantbot.venues.factory import make_venue\n"
        "make_venue(load_config(None, environ={}).config, mode='shadow', clock=LiveClock(),"
        " state_dir=Path('.'), environ={})\n"
        "print(sorted(m for m in ('ccxt', 'alpaca') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_venue_says_whether_it_is_the_embedded_paper_venue(tmp_path: Path) -> None:
    # What the daemon feeds bars to, resumes the synthetic market from and reads equity of.
    sim = make_venue(load_config(None).config, mode="paper", clock=SimClock(0), state_dir=tmp_path)
    assert isinstance(sim, OrderVenue) and sim.embedded is sim
    environ = {"QUANTBOT_CCXT_API_KEY": "k", "QUANTBOT_CCXT_SECRET": "s"}
    config = _config(QUANTBOT__VENUE__NAME="ccxt")
    ccxt = make_venue(config, mode="paper", clock=SimClock(0), state_dir=tmp_path, environ=environ)
    assert isinstance(ccxt, OrderVenue) and ccxt.embedded is None


def test_the_fault_hook_wraps_the_paper_venue_only_under_testing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = {FAULTS_ENV: '{"submit": [{"fault": "rate_limit"}]}'}
    config = load_config(None).config
    with pytest.raises(StartupError, match=f"{FAULTS_ENV}.*reachable only with {TESTING_ENV}=1"):
        make_venue(config, mode="paper", clock=SimClock(0), state_dir=tmp_path, environ=plan)
    monkeypatch.setenv(TESTING_ENV, "1")
    environ = {**plan, TESTING_ENV: "1"}
    venue = make_venue(config, mode="paper", clock=SimClock(0), state_dir=tmp_path, environ=environ)
    assert type(venue).__name__ == "FaultyVenue"
    assert venue.capabilities.in_process is False  # reads go through retries and breakers
    assert venue.embedded is not None and venue.embedded is not venue  # bars reach the book


def test_without_testing_the_fault_wrapper_is_refused_and_never_loaded() -> None:
    # The test double is imported only once QUANTBOT_TESTING=1 is known: not by the factory.
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from quantbot.clock import LiveClock\n"
        "from quantbot.config.schema import load_config\n"
        "from quantbot.domain.errors import StartupError\n"
        "from quantbot.venues.factory import make_venue\n"
        "try:\n"
        "    make_venue(load_config(None, environ={}).config, mode='shadow', clock=LiveClock(),"
        " state_dir=Path('.'), environ={'QUANTBOT_SIM_FAULTS': '{}'})\n"
        "except StartupError as e:\n"
        "    print('refused:', e)\n"
        "print(sorted(m for m in sys.modules if m.endswith(('.faults', '.sim_faults'))))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != TESTING_ENV}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    refusal, modules = result.stdout.strip().splitlines()
    assert refusal.startswith(f"refused: {FAULTS_ENV} (paper venue fault injection) is a test")
    assert modules == "[]"
