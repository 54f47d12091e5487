"""``rule: sign``: the median difference, decided by an exact group-sequential sign test.

Estimand: the median of the paired difference ``A - B`` (for values without ties, whether
``P(A > B)`` exceeds one half). At a look with ``n`` pairs, A is better when at least ``u_n`` of
them favour A, B when at least ``u_n`` favour B. The counts of pairs favouring A form a binomial
random walk with success probability one half when the median difference is zero, whatever the
shape of the runs' spread, so the bounds ``u_n`` are computed exactly, by dynamic programming
over that walk, to spend the O'Brien-Fleming-type error function over the looks
(``dlbench.stats.spending``; Jennison & Turnbull 2000, ch. 12 on exact binomial
group-sequential tests). The repeated confidence interval for the median at a look is
``[the u_n-th largest, the u_n-th smallest]`` difference (the order-statistic interval the sign
test inverts to), and it covers the true median at every look together with probability at least
``confidence``.

A failed run is a loss for its side in its pair (``-inf`` or ``+inf``); a pair where both failed,
or with equal values, is a tie and favours neither, which only makes the test more cautious. So
the rate holds for identical arms of any shape (skewed, heavy-tailed, with bad seeds or failures
at equal rates) and for arms of different shapes with the same median difference of zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache

import numpy as np

from dlbench.stats.planning import runs_for_sign_test
from dlbench.stats.records import BETTER_A, BETTER_B, EQUIVALENT, RUNNING, DecideSpec, Decision
from dlbench.stats.rules.base import advantages, oriented
from dlbench.stats.spending import spent


@cache
def count_bounds(looks: tuple[int, ...], max_runs: int, alpha: float) -> tuple[int, ...]:
    """``u_k`` for each look: the pairs favouring one side that decide for it at that look
    (``n_k + 1`` where no count can). Each depends only on the looks up to its own, so adding
    looks never moves an earlier bound."""
    size = looks[-1] + 1
    alive = np.zeros(size)  # P(count = j, no bound crossed yet) under the null
    alive[0] = 1.0
    taken, spent_so_far, found = 0, 0.0, []
    for n in looks:
        for _ in range(n - taken):
            alive = 0.5 * alive + 0.5 * np.concatenate(([0.0], alive[:-1]))
        taken = n
        allowed = (spent(n / max_runs, alpha) - spent_so_far) / 2  # per side
        upper_tail = np.cumsum(alive[::-1])[::-1]  # upper_tail[j] = P(count >= j, alive)
        bound = next(
            (j for j in range(n // 2 + 1, n + 1) if upper_tail[j] <= allowed * (1 + 1e-9)),
            n + 1,
        )
        found.append(bound)
        if bound <= n:
            spent_so_far += 2 * float(upper_tail[bound])
            alive[bound:] = 0.0
            alive[: n - bound + 1] = 0.0
    return tuple(found)


class SignRule:
    """The exact group-sequential sign test (see the module's docstring)."""

    estimand = "the median of A - B"
    anytime_valid = False

    def replay(
        self, a: np.ndarray, b: np.ndarray, looks: Sequence[int], spec: DecideSpec, alpha: float
    ) -> Decision:
        """Replay the looks; see ``Rule``."""
        edge = advantages(a, b, spec.higher_is_better)
        bounds = self.bounds(tuple(looks), spec.max_runs, alpha)
        decision = None
        for n, bound in zip(looks, bounds, strict=True):
            decision = self._look(edge[:n], bound, spec, a[:n], b[:n])
            if decision.verdict != RUNNING:
                return decision
        assert decision is not None
        return decision

    def bounds(self, looks: tuple[int, ...], max_runs: int, alpha: float) -> tuple[int, ...]:
        """``u_k`` for each look (``count_bounds``)."""
        return count_bounds(looks, max_runs, alpha)

    def needed(self, a: np.ndarray, b: np.ndarray, spec: DecideSpec, alpha: float) -> int | None:
        """Runs a side for 80% power at the share of pairs A wins; see the protocol."""
        edge = advantages(a, b, spec.higher_is_better)
        wins = float((edge > 0).sum()) + 0.5 * float((edge == 0).sum())
        return runs_for_sign_test(wins, len(edge), alpha)

    def _look(
        self, edge: np.ndarray, bound: int, spec: DecideSpec, a: np.ndarray, b: np.ndarray
    ) -> Decision:
        n = len(edge)
        ordered = np.sort(edge)
        low, high = (
            (ordered[n - bound], ordered[bound - 1]) if bound <= n else (-math.inf, math.inf)
        )
        estimate, shown_low, shown_high = oriented(
            float(low), float(high), float(np.median(ordered)), spec.higher_is_better
        )
        verdict = RUNNING
        if spec.margin > 0 and -spec.margin < low and high < spec.margin:
            verdict = EQUIVALENT
        elif low > 0:
            verdict = BETTER_A
        elif high < 0:
            verdict = BETTER_B
        return Decision(
            verdict,
            n,
            estimate,
            shown_low,
            shown_high,
            self.estimand,
            int(np.isnan(a).sum()),
            int(np.isnan(b).sum()),
        )
