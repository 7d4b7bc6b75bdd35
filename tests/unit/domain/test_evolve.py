"""``evolve`` gives what ``attrs.evolve`` gives: the same copy, the same refusals."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest

from quantbot.domain.evolve import evolve
from quantbot.domain.values import Order, OrderStatus, OrderType, Side

ORDER = Order("c1", "AAPL", Side.BUY, Decimal("3"), OrderType.LIMIT, OrderStatus.NEW,
              limit_price=Decimal("101.5"), created_ts_ns=7)  # fmt: skip


@attrs.frozen(slots=True)
class _Private:
    _hidden: int
    shown: str = "x"
    derived: int = attrs.field(init=False, default=0)


@attrs.frozen(slots=True)
class _One:
    only: int


def test_a_copy_with_changes_equals_attrs_evolve() -> None:
    changes = {"status": OrderStatus.FILLED, "filled_qty": Decimal("3"), "venue_order_id": "v9"}
    assert evolve(ORDER, **changes) == attrs.evolve(ORDER, **changes)
    assert evolve(ORDER) == ORDER and evolve(ORDER) is not ORDER
    assert ORDER.status is OrderStatus.NEW  # the original is untouched


def test_private_names_no_init_fields_and_single_field_classes() -> None:
    assert evolve(_Private(1), hidden=2) == attrs.evolve(_Private(1), hidden=2)
    assert evolve(_Private(1, "y")) == _Private(1, "y")
    assert evolve(_One(4), only=5) == _One(5) and evolve(_One(4)) == _One(4)


def test_an_unknown_field_is_refused() -> None:
    with pytest.raises(TypeError):
        evolve(ORDER, colour="red")
