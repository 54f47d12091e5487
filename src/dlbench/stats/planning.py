"""How many runs a side a new decision would need: an honest planning statement for an
undecided comparison (the runs for 80% power at the effect seen, for one test at the end;
looks along the way add a few)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

#: The power a planning statement is made for.
POWER = 0.8
#: Beyond this many runs a side, a statement says "more than".
MOST = 1000


def runs_for_sign_test(wins: float, n: int, alpha: float) -> int | None:
    """Runs a side for a two-sided sign test at level ``alpha`` to reach ``POWER`` when A
    wins each pair with the probability seen (``wins`` of ``n``, shrunk towards one half by one
    pseudo-pair a side so that 10 wins of 10 does not read as certainty)."""
    p = (wins + 1) / (n + 2)
    if abs(p - 0.5) < 1e-9:
        return None
    runs = np.arange(2, MOST + 1)
    # The smallest count the test at level alpha calls decisive, and its chance at p.
    count = stats.binom.isf(alpha / 2, runs, 0.5) + 1
    enough = np.flatnonzero(stats.binom.sf(count - 1, runs, max(p, 1 - p)) >= POWER)
    return int(runs[enough[0]]) if len(enough) else None


def runs_for_mean(differences: np.ndarray, alpha: float) -> int | None:
    """Runs a side for a two-sided paired t test at level ``alpha`` to reach ``POWER`` at
    the mean and spread of ``differences`` (normal approximation)."""
    if len(differences) < 2:
        return None
    mean, spread = abs(float(differences.mean())), float(differences.std(ddof=1))
    if mean == 0 or spread == 0:
        return None
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(POWER)
    runs = math.ceil((z * spread / mean) ** 2)
    return runs if runs <= MOST else None
