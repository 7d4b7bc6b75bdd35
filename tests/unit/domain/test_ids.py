"""Client order ids come from the decision, so a restart regenerates exactly the same ones."""

from __future__ import annotations

import re

from quantbot.domain.ids import client_order_id, decision_id


def test_decision_id_is_symbol_at_bar_time() -> None:
    assert decision_id("SIMA", 1_700_000_000_000_000_000) == "SIMA@1700000000000000000"


def test_client_order_id_is_pinned_across_versions() -> None:
    # A change to the derivation would give journaled decisions new ids after an upgrade, and
    # an order the venue already holds could be sent a second time.
    assert client_order_id("quantbot", "SIMA@1700000000000000000") == (
        "qbf31b783597e695f67810e45a970bad"
    )


def test_client_order_id_is_32_chars_of_prefix_and_hex_and_deterministic() -> None:
    cid = client_order_id("acct", "BTC@1")
    assert re.fullmatch(r"qb[0-9a-f]{30}", cid)
    assert len(cid) == 32
    assert client_order_id("acct", "BTC@1") == cid
    assert client_order_id("acct", "BTC@1", 0) == cid


def test_client_order_id_differs_by_namespace_decision_and_leg() -> None:
    base = client_order_id("acct", "BTC@1")
    others = {
        client_order_id("acct2", "BTC@1"),
        client_order_id("acct", "BTC@2"),
        client_order_id("acct", "ETH@1"),
        client_order_id("acct", "BTC@1", 1),
    }
    assert base not in others
    assert len(others) == 4
