"""Overfitting statistics over a grid of trials: the deflated Sharpe ratio and the PBO.

Pure functions, no I/O. The input is one list of per-period returns per trial (a grid point),
all over the same periods: ``returns_by_trial[n][t]`` is trial ``n``'s return in period ``t``.
Sharpe ratios here are per period (mean / sample standard deviation, not annualised); both
statistics are probabilities and do not depend on the annualisation.

- ``probabilistic_sharpe``: the probability that a series' true Sharpe ratio exceeds a
  benchmark, given its length, skewness and kurtosis (Bailey & López de Prado, 2012).
- ``deflated_sharpe``: the same, against the Sharpe ratio the best of N trials would show by
  luck alone (Bailey & López de Prado, 2014).
- ``pbo_cscv``: the probability of backtest overfitting by combinatorially symmetric
  cross-validation (Bailey, Borwein, López de Prado & Zhu, 2015).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from statistics import NormalDist

EULER_MASCHERONI = 0.5772156649015329
_NORMAL = NormalDist()


class OverfitInputError(ValueError):
    """Returns that the statistics cannot be computed on; the message names what and where."""


def sharpe_ratio(returns: Sequence[float]) -> float:
    """Per-period Sharpe ratio: mean / sample standard deviation (0.0 for a flat series)."""
    n = len(returns)
    if n < 2:
        raise OverfitInputError(f"a Sharpe ratio needs at least 2 returns, got {n}")
    mean = math.fsum(returns) / n
    var = math.fsum((r - mean) ** 2 for r in returns) / (n - 1)
    return mean / math.sqrt(var) if var > 0 else 0.0


def _moments(returns: Sequence[float]) -> tuple[float, float]:
    """Skewness and (non-excess) kurtosis from the population moments; (0, 3) when flat."""
    n = len(returns)
    mean = math.fsum(returns) / n
    m2 = math.fsum((r - mean) ** 2 for r in returns) / n
    if m2 <= 0:
        return 0.0, 3.0
    m3 = math.fsum((r - mean) ** 3 for r in returns) / n
    m4 = math.fsum((r - mean) ** 4 for r in returns) / n
    return m3 / m2**1.5, m4 / m2**2


def probabilistic_sharpe(returns: Sequence[float], benchmark_sr: float) -> float:
    """PSR: the probability that the true per-period Sharpe ratio exceeds ``benchmark_sr``.

    PSR(SR*) = Φ( (SR − SR*) · √(T − 1) / √(1 − γ₃·SR + (γ₄ − 1)/4 · SR²) )

    with SR the observed per-period Sharpe ratio of ``returns``, T their number, γ₃ their
    skewness and γ₄ their (non-excess) kurtosis, Φ the standard normal CDF. Reference: D. H.
    Bailey and M. López de Prado, "The Sharpe Ratio Efficient Frontier", Journal of Risk 15(2),
    2012, eq. (11); the building block of the deflated Sharpe ratio (2014, eq. (2)).
    """
    _check_series(returns, "returns", minimum=3)
    if not math.isfinite(benchmark_sr):
        raise OverfitInputError(f"benchmark_sr = {benchmark_sr} is not finite")
    sr = sharpe_ratio(returns)
    skew, kurt = _moments(returns)
    # 1 - g3*x + (g4-1)/4*x^2 >= (1 - g3*x/2)^2 >= 0 since g4 >= 1 + g3^2; it is 0 only for a
    # degenerate two-valued series, where the estimate's spread is taken as vanishing.
    denominator = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
    numerator = (sr - benchmark_sr) * math.sqrt(len(returns) - 1)
    if denominator <= 1e-12:
        return 1.0 if numerator > 0 else 0.0
    return _NORMAL.cdf(numerator / math.sqrt(denominator))


def expected_max_sharpe(trial_sharpes: Sequence[float]) -> float:
    """E[max] of N trial Sharpe ratios under the null of no skill (true Sharpe 0):

    SR₀ = √V[SR_n] · ((1 − γ) · Φ⁻¹(1 − 1/N) + γ · Φ⁻¹(1 − 1/(N·e)))

    with V the sample variance across the N trials, γ the Euler–Mascheroni constant (Bailey &
    López de Prado, 2014, eq. (2); the approximation of the expected maximum of N normals).
    One trial has no selection: SR₀ = 0.
    """
    n = len(trial_sharpes)
    if n < 2:
        return 0.0
    mean = math.fsum(trial_sharpes) / n
    variance = math.fsum((s - mean) ** 2 for s in trial_sharpes) / (n - 1)
    quantiles = (1.0 - EULER_MASCHERONI) * _NORMAL.inv_cdf(1.0 - 1.0 / n)
    quantiles += EULER_MASCHERONI * _NORMAL.inv_cdf(1.0 - 1.0 / (n * math.e))
    return math.sqrt(variance) * quantiles


def deflated_sharpe(
    returns_by_trial: list[list[float]], chosen: int, *, periods_per_year: float = 252.0
) -> float:
    """DSR: the probability that the chosen trial's true Sharpe ratio beats the best of N
    trials with no skill, corrected for its non-normal returns and its length.

    DSR = PSR(SR₀) = Φ( (SR − SR₀) · √(T − 1) / √(1 − γ₃·SR + (γ₄ − 1)/4 · SR²) )

    SR₀ = √V[SR_n] · ((1 − γ) · Φ⁻¹(1 − 1/N) + γ · Φ⁻¹(1 − 1/(N·e)))

    SR, γ₃ (skewness), γ₄ (kurtosis) and T are the chosen trial's; V[SR_n] is the sample
    variance of the N trials' Sharpe ratios; γ ≈ 0.5772 is the Euler–Mascheroni constant; all
    Sharpe ratios per period. Reference: D. H. Bailey and M. López de Prado, "The Deflated
    Sharpe Ratio: Correcting for Selection Bias, Backtest Overfitting and Non-Normality",
    Journal of Portfolio Management 40(5), 2014, pp. 94-107, eqs. (1)-(2).

    ``periods_per_year`` must be positive; it does not change the result (the ratio of Sharpe
    ratios and their spread scale alike), it is accepted so callers can state their units.
    """
    if not (math.isfinite(periods_per_year) and periods_per_year > 0):
        raise OverfitInputError(f"periods_per_year = {periods_per_year} must be above zero")
    _check_grid(returns_by_trial, minimum=3)
    if not 0 <= chosen < len(returns_by_trial):
        raise OverfitInputError(
            f"chosen = {chosen} is not a trial index (there are {len(returns_by_trial)} trials)"
        )
    benchmark = expected_max_sharpe([sharpe_ratio(r) for r in returns_by_trial])
    return probabilistic_sharpe(returns_by_trial[chosen], benchmark)


def cscv_logits(returns_by_trial: list[list[float]], partitions: int = 16) -> list[float]:
    """The logit of the in-sample best trial's out-of-sample relative rank, for every split.

    The T periods are cut into S = ``partitions`` contiguous blocks (sizes differ by at most
    one period, the longer ones first). For each of the C(S, S/2) ways to pick S/2 blocks as
    in-sample (in ``itertools.combinations`` order), the rest out-of-sample: n* = the trial with
    the highest in-sample Sharpe ratio (the first one on a tie); ω = its rank among the N
    out-of-sample Sharpe ratios (1 = worst, ties share the average rank) / (N + 1);
    λ = ln(ω / (1 − ω)). λ ≤ 0 means the in-sample best did no better than the median.
    """
    if partitions < 2 or partitions % 2:
        raise OverfitInputError(f"partitions = {partitions} must be an even number >= 2")
    why = f" (2 per block, partitions = {partitions})"
    _check_grid(returns_by_trial, minimum=2 * partitions, why=why)
    if len(returns_by_trial) < 2:
        raise OverfitInputError(
            f"PBO needs at least 2 trials to choose between, got {len(returns_by_trial)}"
        )
    n_trials = len(returns_by_trial)
    length = len(returns_by_trial[0])
    base, extra = divmod(length, partitions)
    bounds = [0]
    for b in range(partitions):
        bounds.append(bounds[-1] + base + (1 if b < extra else 0))
    # Per block: its length, and each trial's sum and sum of squares over it.
    counts = [bounds[b + 1] - bounds[b] for b in range(partitions)]
    sums = [
        [math.fsum(r[bounds[b] : bounds[b + 1]]) for r in returns_by_trial]
        for b in range(partitions)
    ]
    squares = [
        [math.fsum(x * x for x in r[bounds[b] : bounds[b + 1]]) for r in returns_by_trial]
        for b in range(partitions)
    ]
    totals = [math.fsum(col) for col in zip(*sums, strict=True)]
    total_squares = [math.fsum(col) for col in zip(*squares, strict=True)]
    logits = []
    for in_sample in itertools.combinations(range(partitions), partitions // 2):
        n_in = sum(counts[b] for b in in_sample)
        s1 = [math.fsum(col) for col in zip(*(sums[b] for b in in_sample), strict=True)]
        s2 = [math.fsum(col) for col in zip(*(squares[b] for b in in_sample), strict=True)]
        sr_in = [_sharpe_from_sums(a, q, n_in) for a, q in zip(s1, s2, strict=True)]
        sr_out = [
            _sharpe_from_sums(t - a, tq - q, length - n_in)
            for a, q, t, tq in zip(s1, s2, totals, total_squares, strict=True)
        ]
        best = max(range(n_trials), key=lambda n: (sr_in[n], -n))
        below = sum(1 for s in sr_out if s < sr_out[best])
        equal = sum(1 for s in sr_out if s == sr_out[best])
        omega = (below + (equal + 1) / 2) / (n_trials + 1)
        logits.append(math.log(omega / (1.0 - omega)))
    return logits


def pbo_cscv(returns_by_trial: list[list[float]], partitions: int = 16) -> float:
    """PBO: the share of the C(S, S/2) in-sample/out-of-sample splits in which the trial that
    was best in-sample ranks at or below the median out-of-sample (logit λ ≤ 0, see
    ``cscv_logits``). Near 0: the selection carries out-of-sample; near or above 0.5: choosing
    the best in-sample is no better than choosing at random. Deterministic (no sampling).

    Reference: D. H. Bailey, J. M. Borwein, M. López de Prado and Q. J. Zhu, "The Probability
    of Backtest Overfitting", Journal of Computational Finance 20(4), 2017 (SSRN 2326253,
    2015), section 2 (the CSCV algorithm, steps 1-6): PBO = ∫_{-∞}^{0} f(λ) dλ, estimated as
    the share of splits with λ ≤ 0.
    """
    logits = cscv_logits(returns_by_trial, partitions)
    return sum(1 for value in logits if value <= 0) / len(logits)


def _sharpe_from_sums(total: float, squares: float, n: int) -> float:
    mean = total / n
    variance = (squares - total * total / n) / (n - 1)
    if variance <= 1e-300:
        return 0.0
    return mean / math.sqrt(variance)


def _check_series(returns: Sequence[float], where: str, *, minimum: int, why: str = "") -> None:
    if len(returns) < minimum:
        raise OverfitInputError(
            f"{where} has {len(returns)} returns; at least {minimum} needed{why}"
        )
    for t, value in enumerate(returns):
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise OverfitInputError(f"{where}[{t}] = {value!r} is not a finite number")


def _check_grid(
    returns_by_trial: Sequence[Sequence[float]], *, minimum: int, why: str = ""
) -> None:
    if not returns_by_trial:
        raise OverfitInputError("returns_by_trial is empty: no trials")
    length = len(returns_by_trial[0])
    for n, returns in enumerate(returns_by_trial):
        if len(returns) != length:
            raise OverfitInputError(
                f"returns_by_trial is ragged: trial {n} has {len(returns)} returns, trial 0 "
                f"has {length} (every trial must cover the same periods)"
            )
    for n, returns in enumerate(returns_by_trial):
        _check_series(returns, f"returns_by_trial[{n}]", minimum=minimum, why=why)
