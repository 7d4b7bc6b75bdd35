"""Overfitting statistics: the deflated Sharpe ratio and the PBO by CSCV, on cases checked by
hand, on a known-noise grid and on a grid with one planted edge."""

from __future__ import annotations

import math
import random
from statistics import NormalDist

import pytest

from quantbot.research.overfit import (
    EULER_MASCHERONI,
    OverfitInputError,
    cscv_logits,
    deflated_sharpe,
    pbo_cscv,
    probabilistic_sharpe,
    sharpe_ratio,
)

PHI = NormalDist()


def noise_grid(seed: int, trials: int = 50, periods: int = 256) -> list[list[float]]:
    rng = random.Random(seed)
    return [[rng.gauss(0.0, 0.01) for _ in range(periods)] for _ in range(trials)]


def pair(mean: float) -> list[float]:
    """Two returns mean +/- 0.01: sample std = sqrt(2 * 0.01^2 / 1) = 0.014142 for every
    block, so a block's Sharpe ratio is mean / 0.014142 and blocks rank by their mean."""
    return [mean - 0.01, mean + 0.01]


def test_pbo_on_a_hand_checked_grid() -> None:
    # 4 trials, T = 4 periods, S = 2 blocks of 2 periods. Block means (Sharpe = mean/0.014142):
    #            block 0   block 1
    #   trial 0    0.04      0.03
    #   trial 1    0.01      0.04
    #   trial 2    0.02      0.02
    #   trial 3    0.03      0.01
    # Split 1, in-sample {block 0}: best is trial 0 (0.04). Out-of-sample (block 1) means
    #   0.03, 0.04, 0.02, 0.01 -> trial 0 ranks 3rd worst-to-best of 4 -> w = 3/(4+1) = 0.6,
    #   logit = ln(0.6/0.4) = ln 1.5 > 0 (not overfit).
    # Split 2, in-sample {block 1}: best is trial 1 (0.04). Out-of-sample (block 0) means
    #   0.04, 0.01, 0.02, 0.03 -> trial 1 ranks 1st -> w = 1/5 = 0.2,
    #   logit = ln(0.2/0.8) = ln 0.25 < 0 (overfit).
    # PBO = share of logits <= 0 = 1/2.
    grid = [
        pair(0.04) + pair(0.03),
        pair(0.01) + pair(0.04),
        pair(0.02) + pair(0.02),
        pair(0.03) + pair(0.01),
    ]
    logits = cscv_logits(grid, partitions=2)
    assert logits == pytest.approx([math.log(1.5), math.log(0.25)])
    assert pbo_cscv(grid, partitions=2) == 0.5


def test_psr_and_dsr_on_a_hand_checked_series() -> None:
    # returns 0.01, 0.02, 0.03, 0.04: mean 0.025; deviations +-0.015, +-0.005
    #   sample var = 2 * (0.015^2 + 0.005^2) / 3 = 0.0005 / 3 -> std 0.0129099
    #   SR = 0.025 / 0.0129099 = 1.936492
    #   skew = 0 (symmetric); population m2 = 0.0005/4 = 1.25e-4,
    #   m4 = 2 * (0.015^4 + 0.005^4) / 4 = 2.5625e-8 -> kurtosis = m4 / m2^2 = 1.64
    #   PSR(0) = Phi(SR * sqrt(3) / sqrt(1 - 0 + (1.64 - 1)/4 * SR^2))
    #          = Phi(3.354102 / sqrt(1 + 0.16 * 3.75)) = Phi(3.354102 / 1.264911) = Phi(2.651650)
    series = [0.01, 0.02, 0.03, 0.04]
    assert sharpe_ratio(series) == pytest.approx(1.936492, abs=1e-6)
    assert probabilistic_sharpe(series, 0.0) == pytest.approx(PHI.cdf(2.651650), abs=1e-6)
    # Against SR* = 1: Phi((1.936492 - 1) * sqrt(3) / 1.264911) = Phi(1.282344)
    assert probabilistic_sharpe(series, 1.0) == pytest.approx(PHI.cdf(1.282344), abs=1e-6)

    # DSR with a second trial -0.01, -0.02, -0.03, -0.04 (SR -1.936492): the trial Sharpes' sample
    # variance is (2 * 1.936492^2) / 1 = 7.5, so
    #   SR0 = sqrt(7.5) * ((1 - g) * Phi^-1(1 - 1/2) + g * Phi^-1(1 - 1/(2e)))
    #       = 2.738613 * (0 + 0.577216 * Phi^-1(0.816060)) = 2.738613 * 0.577216 * 0.900453
    #       = 1.423409
    #   DSR = Phi((1.936492 - 1.423409) * sqrt(3) / 1.264911) = Phi(0.702568)
    sr0 = math.sqrt(7.5) * EULER_MASCHERONI * PHI.inv_cdf(1 - 1 / (2 * math.e))
    assert sr0 == pytest.approx(1.423409, abs=1e-5)
    dsr = deflated_sharpe([series, [-r for r in series]], chosen=0)
    assert dsr == pytest.approx(PHI.cdf(0.702568), abs=1e-5)
    assert dsr < probabilistic_sharpe(series, 0.0)  # the second trial deflates it


def test_a_pure_noise_grid_has_a_high_pbo_and_its_best_trial_a_low_dsr() -> None:
    grid = noise_grid(seed=3)
    assert pbo_cscv(grid) >= 0.5  # 16 partitions: 12870 splits
    # Over several noise grids the in-sample best does no better than a coin out-of-sample.
    pbos = [pbo_cscv(noise_grid(seed), partitions=10) for seed in range(10)]
    assert sum(pbos) / len(pbos) >= 0.45
    best = max(range(len(grid)), key=lambda n: sharpe_ratio(grid[n]))
    assert deflated_sharpe(grid, best) < 0.9  # the best of 50 coins is not a discovery


def test_a_planted_edge_has_a_low_pbo_and_a_dsr_near_one() -> None:
    grid = noise_grid(seed=3)
    rng = random.Random(99)
    grid[7] = [rng.gauss(0.004, 0.01) for _ in range(256)]  # a drift that holds throughout
    assert pbo_cscv(grid) <= 0.05
    assert deflated_sharpe(grid, chosen=7) >= 0.99


def test_dsr_falls_as_the_number_of_trials_grows() -> None:
    rng = random.Random(5)
    chosen = [rng.gauss(0.0015, 0.01) for _ in range(256)]
    others = noise_grid(seed=11, trials=400)
    dsrs = [deflated_sharpe([chosen, *others[: n - 1]], chosen=0) for n in (2, 10, 50, 400)]
    assert dsrs == sorted(dsrs, reverse=True)
    assert dsrs[0] - dsrs[-1] > 0.3


def test_bad_input_is_named() -> None:
    grid = noise_grid(seed=1, trials=3, periods=64)
    ragged = [grid[0], grid[1][:-1], grid[2]]
    with pytest.raises(OverfitInputError, match=r"ragged: trial 1 has 63 returns, trial 0 has 64"):
        pbo_cscv(ragged)
    with pytest.raises(OverfitInputError, match=r"ragged: trial 1 has 63"):
        deflated_sharpe(ragged, chosen=0)
    short = [r[:20] for r in grid]
    with pytest.raises(
        OverfitInputError, match=r"returns_by_trial\[0\] has 20 returns; at least 32 needed"
    ):
        pbo_cscv(short)
    with pytest.raises(OverfitInputError, match=r"returns_by_trial\[0\] has 2 returns"):
        deflated_sharpe([[0.1, 0.2], [0.2, 0.1]], chosen=0)
    with pytest.raises(OverfitInputError, match=r"partitions = 5 must be an even number"):
        pbo_cscv(grid, partitions=5)
    with pytest.raises(OverfitInputError, match=r"PBO needs at least 2 trials"):
        pbo_cscv(grid[:1])
    with pytest.raises(OverfitInputError, match=r"chosen = 3 is not a trial index"):
        deflated_sharpe(grid, chosen=3)
    nan = [grid[0], [*grid[1][:10], float("nan"), *grid[1][11:]], grid[2]]
    with pytest.raises(OverfitInputError, match=r"returns_by_trial\[1\]\[10\] = nan"):
        deflated_sharpe(nan, chosen=0)
    with pytest.raises(OverfitInputError, match=r"returns_by_trial is empty"):
        pbo_cscv([])


def test_pbo_is_deterministic() -> None:
    grid = noise_grid(seed=8, trials=12, periods=96)
    assert cscv_logits(grid, 8) == cscv_logits([list(r) for r in grid], 8)
