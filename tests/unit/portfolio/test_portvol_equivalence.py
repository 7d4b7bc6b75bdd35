"""The portfolio volatility factor reads each symbol's variance once and skips the copies and
sorts a one-symbol book does not need (issue 23, deadband 0: it runs on every bar past the
netting). These tests pin that the short way gives exactly, byte for byte, what the long way
(every variance read where it is used, the book always copied and sorted) gives: on books of
one to four symbols, with symbols whose covariance is not known yet, positions held but not
wanted, and targets that leave the book."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

import orjson
import pytest

from quantbot.portfolio.covariance import RollingCovariance
from quantbot.portfolio.portvol import PortfolioVolTarget

SYMBOLS = ("AAA", "BBB", "CCC", "DDD")


class Periods:
    def __init__(self, value: float) -> None:
        self.value = value

    def periods(self, symbol: str) -> float | None:
        return self.value


def long_way(
    target: PortfolioVolTarget,
    wanted: dict[str, float],
    symbol: str,
    signed: float,
    *,
    equity: float,
    others: Mapping[str, float],
    periods: float,
) -> tuple[float, dict[str, Any]]:
    """The factor as it was computed before issue 23 (``wanted``: the book before the call)."""
    weights = dict(wanted)
    if signed:
        weights[symbol] = signed
    else:
        weights.pop(symbol, None)
    for other, held in others.items():
        if held and other not in weights:
            weights[other] = held
    cov = target.covariance.covariance
    if cov(symbol, symbol) is None or not periods or equity <= 0.0:
        return 1.0, {"status": "unknown: too few returns, not scaled", "factor": 1.0}
    members = sorted(s for s in weights if cov(s, s) is not None)
    unknown = sorted(s for s in weights if s not in members)
    variance = 0.0
    for i, a in enumerate(members):
        wa = weights[a]
        for b in members[i:]:
            c = cov(a, b)
            if c is None:
                continue
            variance += (wa * wa if a == b else 2.0 * wa * weights[b]) * c
    vol = math.sqrt(max(variance, 0.0) * periods) / equity
    raw = target.target_vol / vol if vol > target.target_vol else 1.0
    factor = max(raw, target.min_scale)
    detail: dict[str, Any] = {
        "realised_vol": vol,
        "target_vol": target.target_vol,
        "factor": factor,
        "members": {s: weights[s] for s in members},
    }
    if unknown:
        detail["unknown"] = unknown
    return factor, detail


def covariance(rnd: random.Random, bars: int) -> RollingCovariance:
    """Returns of the symbols; DDD starts late (unknown for a while), CCC skips bars."""
    cov = RollingCovariance(12)
    for ts in range(bars):
        for symbol in SYMBOLS:
            if (symbol == "DDD" and ts < bars - 4) or (symbol == "CCC" and ts % 3 == 0):
                continue
            cov.add(symbol, ts, rnd.gauss(0.0, 0.01))
    return cov


@pytest.mark.parametrize("seed", range(12))
def test_the_factor_and_its_detail_are_those_of_the_long_way(seed: int) -> None:
    rnd = random.Random(seed)
    target = PortfolioVolTarget(
        target_vol=rnd.choice((0.001, 0.02, 5.0)), min_scale=0.1,
        covariance=covariance(rnd, rnd.choice((2, 8, 30))),
    )  # fmt: skip
    for _ in range(300):
        symbol = rnd.choice(SYMBOLS)
        others = {
            s: rnd.choice((0.0, 0.0, rnd.uniform(-5e4, 5e4)))
            for s in SYMBOLS
            if s != symbol and rnd.random() < 0.5
        }
        signed = rnd.choice((0.0, rnd.uniform(-1e5, 1e5), rnd.uniform(-1e5, 1e5)))
        equity = rnd.choice((1e5, 1e5, 0.0))
        periods = rnd.choice((252.0, 525_600.0, 0.0))
        before = dict(target._wanted)
        expected = long_way(
            target, before, symbol, signed, equity=equity, others=others, periods=periods
        )
        got = target.factor(symbol, signed, equity=equity, others=others, stats=Periods(periods))
        assert orjson.dumps(got) == orjson.dumps(expected)
        book = {**before, symbol: signed}
        if not signed:
            del book[symbol]
        assert target._wanted == book  # what is only held never joins the wanted book
