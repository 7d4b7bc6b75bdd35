"""``legs.OcoLinks``: our stop-loss id of each OCO, kept in a file under state/ before the
OCO is sent, and read back by the next adapter."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from quantbot.domain.errors import StartupError
from quantbot.venues.alpaca.legs import OcoLink, OcoLinks

GOOD = '{"take_profit": "a", "stop_loss": "b", "oco_group": null}\n'


def test_a_link_is_on_disk_owner_only_and_the_next_reader_has_it(tmp_path: Path) -> None:
    path = tmp_path / "alpaca_oco_links.jsonl"
    link = OcoLink("qbtp", "qbsl", "g-1")
    OcoLinks(path).add(link)
    OcoLinks(path).add(link)  # the same link again (a retry): written once

    again = OcoLinks(path)

    assert again.by_parent("qbtp") == again.by_stop("qbsl") == link
    assert again.by_stop("qbtp") is None and len(again) == 1
    assert len(path.read_text().splitlines()) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_line_cut_short_at_the_end_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "links.jsonl"
    path.write_text(GOOD + '{"take_profit": "c", "sto')  # the crash came before any send

    links = OcoLinks(path)

    assert [link.take_profit for link in links.links()] == ["a"]


def test_a_bad_line_before_the_end_refuses_to_start_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "links.jsonl"
    path.write_text(GOOD + "not json\n" + GOOD)

    with pytest.raises(StartupError, match=r"links.jsonl:2: not an OCO link"):
        OcoLinks(path)


def test_without_a_path_links_live_in_memory_only(tmp_path: Path) -> None:
    links = OcoLinks(None)
    links.add(OcoLink("a", "b", None))
    assert links.by_stop("b") is not None
    assert list(tmp_path.iterdir()) == []
