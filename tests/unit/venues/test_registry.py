"""The venue table: ``venue.name`` is one of its rows, each row a package that builds itself,
checks its own config section, and says how its bars arrive."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantbot.clock import SimClock
from quantbot.config.schema import load_config
from quantbot.domain.errors import ConfigError
from quantbot.venues.registry import VENUES, BarSource, VenuePackage, venue_package


def test_every_row_is_a_package_and_the_config_offers_exactly_those(tmp_path: Path) -> None:
    assert all(isinstance(venue_package(name), VenuePackage) for name in VENUES)
    path = tmp_path / "config.toml"
    path.write_text('[venue]\nname = "kraken"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert str(err.value) == f"{path}:2: venue.name = 'kraken': must be one of sim, ccxt, alpaca"


def test_a_venues_own_section_is_checked_whichever_venue_is_configured(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[venue]\nname = "ccxt"\n[venue.sim]\nsession = "25:00-16:00"\n[market]\nsource = "venue"\n'
    )
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert str(err.value) == (
        f"{path}:4: venue.sim.session = '25:00-16:00': session '25:00-16:00': not a time of day"
    )


def test_only_a_venue_with_market_data_of_its_own_says_how_its_bars_come() -> None:
    assert venue_package("sim").bars is None  # it matches the bars the configured feed brings
    clock = SimClock(0)
    env = {"QUANTBOT__MARKET__SOURCE": "venue"}
    alpaca = load_config(None, environ={**env, "QUANTBOT__VENUE__NAME": "alpaca"}).config
    bars = venue_package("alpaca").bars
    assert bars is not None
    assert bars(alpaca, clock) == BarSource(5.0, None, "alpaca: polled")
    ccxt = load_config(
        None,
        environ={
            **env,
            "QUANTBOT__VENUE__NAME": "ccxt",
            "QUANTBOT__VENUE__CCXT__STREAM": "false",
            "QUANTBOT__VENUE__CCXT__POLL_INTERVAL_S": "2",
        },
    ).config
    bars = venue_package("ccxt").bars
    assert bars is not None
    assert bars(ccxt, clock) == BarSource(2.0, None, "stream disabled in config")


def test_cancel_all_offline_need_not_ask_a_paper_venue_that_never_wrote_a_book(
    tmp_path: Path,
) -> None:
    sim = venue_package("sim")
    assert sim.nothing_sent(tmp_path) == f"no paper venue book in {tmp_path}: nothing was ever sent"
    (tmp_path / "sim_venue.json").write_text("{}")
    assert sim.nothing_sent(tmp_path) is None
    # A broker's account may hold orders this machine never journaled: always asked.
    assert venue_package("ccxt").nothing_sent(tmp_path / "empty") is None
    assert venue_package("alpaca").nothing_sent(tmp_path / "empty") is None
