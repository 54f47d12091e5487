"""Decisions from paired runs added in waves: group-sequential repeated confidence intervals.

A comparison of two configurations looks at the paired differences of their runs (pairs share
every varied source of randomness: the seed) after each wave. At look ``k``, with ``n_k`` pairs,
its repeated confidence interval (RCI) is ``mean ± b_k · sd / sqrt(n_k)``. The ``b_k`` are
chosen so that the intervals of *all* looks cover the true mean difference together with
probability at least ``confidence`` (Jennison & Turnbull, 1989), whatever the looks are: the
error probability ``alpha = 1 - confidence`` is spent over the looks by the Lan-DeMets
O'Brien-Fleming-type spending function ``alpha(t) = 2 - 2 Φ(z_{1-alpha/2} / sqrt(t))``, with
``t = n_k / max_runs`` (Lan & DeMets, 1983). So a decision read off any look keeps its stated
error rate, however many looks are taken:

- **better** (A or B) when the RCI excludes zero: a false "better" happens at most with
  probability ``alpha`` when the two are the same;
- **equivalent** when the RCI lies inside ``±margin`` (a region of practical equivalence, as in
  Corani et al., 2017); it wins over "better" when both hold;
- **undecided** at ``max_runs`` otherwise, with the runs a decision would need at this spread.

The differences' t statistics at successive looks are pivotal under any true difference (their
joint law depends on neither the mean nor the spread, for normal differences), so ``b_k`` are
computed once per look schedule by Monte Carlo on null paths with a fixed seed: exact up to
Monte Carlo error, deterministic, and valid for the small numbers of runs training takes (the
usual normal-theory boundaries, converted to t, spend up to 15% more than stated at n = 3..10).

References: C. Jennison and B. W. Turnbull, "Interim analyses: the repeated confidence interval
approach", J. R. Stat. Soc. B 51 (1989); K. K. G. Lan and D. L. DeMets, "Discrete sequential
boundaries for clinical trials", Biometrika 70 (1983); X. Bouthillier et al., "Accounting for
variance in machine learning benchmarks", MLSys 2021; G. Corani et al., "Statistical comparison
of classifiers through Bayesian hierarchical modelling", Machine Learning 106 (2017).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import stats

#: Null paths the boundaries are computed on, and their fixed seed.
PATHS = 100_000
SEED = 20_251_201
#: Paths drawn at once (bounds memory: ``CHUNK * max_runs`` normals).
CHUNK = 10_000
#: The most runs a comparison may ask for, and the fewest it starts from.
MAX_RUNS = 200
MIN_RUNS = 2

BETTER_A, BETTER_B = "A better", "B better"
EQUIVALENT, UNDECIDED, RUNNING = "equivalent", "undecided", "running"


def spent(t: float, alpha: float) -> float:
    """Error probability spent by information fraction ``t``: O'Brien-Fleming type."""
    if t <= 0:
        return 0.0
    z = stats.norm.ppf(1 - alpha / 2)
    return float(2 - 2 * stats.norm.cdf(z / math.sqrt(min(t, 1.0))))


@cache
def boundaries(looks: tuple[int, ...], max_runs: int, confidence: float) -> tuple[float, ...]:
    """The RCI multipliers ``b_k`` for looks at ``looks`` pairs (increasing, at least
    :data:`MIN_RUNS`, at most ``max_runs``), so that the RCIs of all looks cover together with
    probability ``confidence``."""
    if not looks or list(looks) != sorted(set(looks)) or looks[0] < MIN_RUNS:
        raise ValueError(f"looks must increase from {MIN_RUNS}: {looks}")
    alpha = 1 - confidence
    statistics_at = _null_t_statistics(looks)
    alive = np.ones(len(statistics_at), dtype=bool)
    result = []
    previous = 0.0
    for k, n in enumerate(looks):
        target = spent(n / max_runs, alpha) - spent(previous / max_runs, alpha)
        previous = n
        values = np.abs(statistics_at[alive, k])
        crossing = int(target * len(statistics_at))
        if crossing <= 0:
            bound = math.inf
        elif crossing >= len(values):
            bound = 0.0
        else:
            # The smallest bound that at most `crossing` of the paths still alive exceed.
            bound = float(np.partition(values, len(values) - crossing - 1)[-crossing - 1])
        result.append(bound)
        alive &= np.abs(statistics_at[:, k]) <= bound
    return tuple(result)


def _null_t_statistics(looks: tuple[int, ...]) -> np.ndarray:
    """One-sample t statistics of :data:`PATHS` standard normal paths at each look."""
    rng = np.random.default_rng(SEED)
    last = looks[-1]
    index = np.asarray(looks) - 1
    counts = np.asarray(looks, dtype=float)
    out = np.empty((PATHS, len(looks)), dtype=np.float64)
    for start in range(0, PATHS, CHUNK):
        draws = rng.standard_normal((min(CHUNK, PATHS - start), last))
        sums = np.cumsum(draws, axis=1)[:, index]
        squares = np.cumsum(draws * draws, axis=1)[:, index]
        means = sums / counts
        variances = np.maximum(squares - counts * means * means, 0.0) / (counts - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[start : start + len(draws)] = means / np.sqrt(variances / counts)
    return np.nan_to_num(out, nan=0.0, posinf=np.inf, neginf=-np.inf)


@dataclass(frozen=True)
class Decision:
    """Where a comparison stands.

    :param verdict: :data:`BETTER_A`, :data:`BETTER_B`, :data:`EQUIVALENT`, :data:`UNDECIDED`
        (at ``max_runs``) or :data:`RUNNING` (more runs are planned).
    :param n: the pairs the verdict rests on.
    :param mean: their mean difference (A - B).
    :param low: the repeated confidence interval's lower end, ``high`` its upper end.
    :param multiplier: the look's ``b_k`` (the interval's half-width in standard errors).
    :param needed: for an undecided comparison, about how many pairs a decision would take at
        the spread seen (``None`` when not undecided or not estimable).
    """

    verdict: str
    n: int
    mean: float
    low: float
    high: float
    multiplier: float = math.inf
    needed: int | None = None


def decide(
    differences: Sequence[float],
    looks: Sequence[int],
    *,
    confidence: float,
    margin: float,
    max_runs: int,
) -> Decision:
    """Replay the looks on ``differences`` (paired A - B, in run order) and return the first
    decisive one (``better`` meaning A - B > 0), else the last look as :data:`RUNNING`.

    :param looks: the numbers of pairs at which the comparison looked, increasing, each at most
        ``len(differences)``.
    :param max_runs: the planned largest number of pairs (the spending function's horizon).
    """
    values = np.asarray(differences, dtype=float)
    looks = tuple(n for n in looks if MIN_RUNS <= n <= len(values))
    if not looks:
        return Decision(RUNNING, len(values), _mean(values), -math.inf, math.inf)
    multipliers = boundaries(looks, max_runs, confidence)
    decision = Decision(RUNNING, 0, math.nan, -math.inf, math.inf)
    for n, multiplier in zip(looks, multipliers, strict=True):
        sample = values[:n]
        mean = float(sample.mean())
        half = multiplier * float(sample.std(ddof=1)) / math.sqrt(n)
        low, high = mean - half, mean + half
        if -margin < low and high < margin:
            return Decision(EQUIVALENT, n, mean, low, high, multiplier)
        if low > 0 or high < 0:
            return Decision(BETTER_A if low > 0 else BETTER_B, n, mean, low, high, multiplier)
        decision = Decision(RUNNING, n, mean, low, high, multiplier)
    return decision


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else math.nan


def runs_needed(differences: Sequence[float], margin: float, multiplier: float) -> int | None:
    """About how many pairs would make the interval exclude zero, or fit in the margin, at the
    mean and spread of ``differences`` and a look's ``multiplier`` (the smaller of the two)."""
    values = np.asarray(differences, dtype=float)
    if len(values) < 2 or not math.isfinite(multiplier):
        return None
    mean, spread = abs(float(values.mean())), float(values.std(ddof=1))
    if spread == 0:
        return None
    candidates = []
    if mean > 0:
        candidates.append((multiplier * spread / mean) ** 2)
    if mean < margin:
        candidates.append((multiplier * spread / (margin - mean)) ** 2)
    return math.ceil(min(candidates)) if candidates else None


def look_schedule(min_runs: int, wave: int, max_runs: int) -> tuple[int, ...]:
    """The numbers of runs at which a comparison looks: ``min_runs``, then every ``wave`` more,
    up to ``max_runs``."""
    return tuple(sorted({*range(min_runs, max_runs, wave), max_runs}))


def probability_of_better(
    differences: Sequence[float], confidence: float
) -> tuple[float, float, float] | None:
    """P(A > B) over the pairs that differ, with its Wilson interval (Bouthillier et al. 2021's
    probability of outperforming); ``None`` without such pairs."""
    values = np.asarray(differences, dtype=float)
    differing = values[values != 0]
    if not len(differing):
        return None
    wins = int((differing > 0).sum())
    interval = stats.binomtest(wins, len(differing)).proportion_ci(confidence, method="wilson")
    return wins / len(differing), float(interval.low), float(interval.high)
