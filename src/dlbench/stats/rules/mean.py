"""``rule: mean``: the mean difference, decided by group-sequential repeated confidence
intervals on the paired t statistic.

Estimand: the mean of the paired difference ``A - B``. At a look with ``n`` complete pairs the
repeated confidence interval is ``mean ± b_n · sd / sqrt(n)``; the ``b_n`` make the intervals of
all looks cover the true mean together with probability ``confidence`` (Jennison & Turnbull,
J. R. Stat. Soc. B 51, 1989), spending the error by the O'Brien-Fleming-type function
(``dlbench.stats.spending``). The t statistics of successive looks are pivotal for normal
differences, so the ``b_n`` are computed once per design by Monte Carlo on null paths of
``max_runs`` draws with a fixed seed: deterministic, and nested (adding a look never moves an
earlier bound).

The rate holds exactly for normal differences only. Skewed or heavy-tailed differences (a bad
seed, a diverging run) make early looks err more often (measured in docs/statistics.md); the
decision then carries a note, and ``rule: sign`` is exact for them. Pairs with a failed run are
left out of the mean, and the rule never calls better the side that failed more runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache, lru_cache

import numpy as np
from scipy import stats

from dlbench.stats.planning import runs_for_mean
from dlbench.stats.records import BETTER_A, BETTER_B, EQUIVALENT, RUNNING, DecideSpec, Decision
from dlbench.stats.rules.base import oriented
from dlbench.stats.spending import spent

#: Null paths the boundaries are computed on, and their fixed seed.
PATHS = 100_000
SEED = 20_251_201
#: Paths drawn at once (bounds memory: ``CHUNK * max_runs`` normals).
CHUNK = 10_000
#: Sample skewness beyond which a decision carries a note (the t statistic's tails move).
SKEWED = 1.0


@cache
def multipliers(looks: tuple[int, ...], max_runs: int, alpha: float) -> tuple[float, ...]:
    """The interval multipliers ``b_k`` for looks at ``looks`` complete pairs (increasing, at
    least 2, at most ``max_runs``)."""
    statistics_at = _null_t_statistics(looks, max_runs)
    alive = np.ones(len(statistics_at), dtype=bool)
    found, previous = [], 0.0
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
        found.append(bound)
        alive &= np.abs(statistics_at[:, k]) <= bound
    return tuple(found)


def _null_t_statistics(looks: tuple[int, ...], max_runs: int) -> np.ndarray:
    """One-sample t statistics of ``PATHS`` standard normal paths of ``max_runs`` draws at
    each look (the same draws whatever the looks, so bounds are nested)."""
    sums, squares = _null_paths(max(max_runs, looks[-1]))
    index = np.asarray(looks) - 1
    counts = np.asarray(looks, dtype=np.float64)
    means = sums[:, index].astype(np.float64) / counts
    taken = squares[:, index].astype(np.float64)
    variances = np.maximum(taken - counts * means * means, 0.0) / (counts - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        found = means / np.sqrt(variances / counts)
    return np.nan_to_num(found, nan=0.0, posinf=np.inf, neginf=-np.inf)


@lru_cache(maxsize=2)
def _null_paths(length: int) -> tuple[np.ndarray, np.ndarray]:
    """Running sums and sums of squares of ``PATHS`` standard normal paths of ``length``
    draws (fixed seed), kept so that any looks' statistics are read off them."""
    rng = np.random.default_rng(SEED)
    # float32 halves the memory (PATHS x length each); the t statistics need no more digits.
    sums = np.empty((PATHS, length), dtype=np.float32)
    squares = np.empty((PATHS, length), dtype=np.float32)
    for start in range(0, PATHS, CHUNK):
        draws = rng.standard_normal((min(CHUNK, PATHS - start), length))
        sums[start : start + len(draws)] = np.cumsum(draws, axis=1)
        squares[start : start + len(draws)] = np.cumsum(draws * draws, axis=1)
    return sums, squares


class MeanRule:
    """Group-sequential repeated confidence intervals on the mean (see the module)."""

    estimand = "the mean of A - B"
    anytime_valid = False

    def replay(
        self, a: np.ndarray, b: np.ndarray, looks: Sequence[int], spec: DecideSpec, alpha: float
    ) -> Decision:
        """Replay the looks; see ``Rule``."""
        complete = ~np.isnan(a) & ~np.isnan(b)
        counts = [int(complete[:n].sum()) for n in looks]
        taken = [(n, c) for n, c in zip(looks, counts, strict=True) if c >= 2]
        # Looks at the same number of complete pairs are one look.
        kept = list({c: (n, c) for n, c in reversed(taken)}.values())[::-1]
        if not kept:
            n = looks[-1]
            return Decision(
                RUNNING, n, math.nan, -math.inf, math.inf, self.estimand,
                int(np.isnan(a[:n]).sum()), int(np.isnan(b[:n]).sum()),
            )  # fmt: skip
        bounds = multipliers(tuple(c for _, c in kept), spec.max_runs, alpha)
        decision = None
        for (n, _), multiplier in zip(kept, bounds, strict=True):
            decision = self._look(a[:n], b[:n], multiplier, spec)
            if decision.verdict != RUNNING:
                return decision
        assert decision is not None
        return decision

    def needed(self, a: np.ndarray, b: np.ndarray, spec: DecideSpec, alpha: float) -> int | None:
        """Runs a side for 80% power at the mean and spread seen; see the protocol."""
        complete = ~np.isnan(a) & ~np.isnan(b)
        return runs_for_mean(a[complete] - b[complete], alpha)

    def _look(self, a: np.ndarray, b: np.ndarray, multiplier: float, spec: DecideSpec) -> Decision:
        complete = ~np.isnan(a) & ~np.isnan(b)
        sign = 1.0 if spec.higher_is_better else -1.0
        edge = sign * (a[complete] - b[complete])
        n = len(edge)
        mean, spread = float(edge.mean()), float(edge.std(ddof=1))
        half = multiplier * spread / math.sqrt(n) if spread > 0 else math.inf
        low, high = mean - half, mean + half
        failed_a, failed_b = int(np.isnan(a).sum()), int(np.isnan(b).sum())
        verdict = RUNNING
        if spec.margin > 0 and -spec.margin < low and high < spec.margin:
            verdict = EQUIVALENT
        elif low > 0 and failed_a <= failed_b:
            verdict = BETTER_A
        elif high < 0 and failed_b <= failed_a:
            verdict = BETTER_B
        estimate, shown_low, shown_high = oriented(low, high, mean, spec.higher_is_better)
        note = ""
        if n >= 5 and spread > 0 and abs(float(stats.skew(edge))) > SKEWED:
            note = (
                f"the differences look skewed (skewness {float(stats.skew(edge)):+.1f}): the "
                "mean rule's error rate is approximate here; rule: sign is exact"
            )
        return Decision(
            verdict, len(a), estimate, shown_low, shown_high, self.estimand, failed_a, failed_b,
            note=note,
        )  # fmt: skip
