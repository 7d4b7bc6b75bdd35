"""The deadband's reference per symbol: what was ordered (told only once the order went), and
the rest of a clamped order still to catch up on."""

from __future__ import annotations

from decimal import Decimal

from quantbot.portfolio.targets import OrderedTargets


def test_reference_is_flat_until_an_order_and_then_its_target() -> None:
    targets = OrderedTargets()
    assert targets.reference("AAPL") == 0.0
    targets.ordered("AAPL", 0.6, cut=False, approved_qty=None)
    assert targets.reference("AAPL") == 0.6
    targets.ordered("AAPL", -0.4, cut=False, approved_qty=None)
    assert (targets.reference("AAPL"), targets.reference("MSFT")) == (-0.4, 0.0)


def test_a_cut_order_catches_up_with_its_approved_target_until_complete() -> None:
    targets = OrderedTargets()
    targets.ordered("AAPL", 1.0, cut=True, approved_qty=Decimal(300))
    assert targets.catching_up("AAPL") and targets.approved("AAPL") == Decimal(300)
    # the next slice is cut again, as the rest of an entry already approved
    targets.ordered("AAPL", 1.0, cut=True, approved_qty=None)
    assert targets.catching_up("AAPL") and targets.approved("AAPL") == Decimal(300)
    targets.ordered("AAPL", 1.0, cut=False, approved_qty=None)
    assert not targets.catching_up("AAPL") and targets.approved("AAPL") is None


def test_forget_and_caught_up_clear_what_they_say() -> None:
    targets = OrderedTargets()
    targets.ordered("AAPL", 1.0, cut=True, approved_qty=Decimal(300))
    targets.caught_up("AAPL")
    assert (targets.catching_up("AAPL"), targets.approved("AAPL")) == (False, None)
    assert targets.reference("AAPL") == 1.0  # catching up ended, the reference stays
    targets.ordered("AAPL", 1.0, cut=True, approved_qty=Decimal(300))
    targets.forget("AAPL")
    assert (targets.reference("AAPL"), targets.catching_up("AAPL")) == (0.0, False)
    assert targets.approved("AAPL") is None
