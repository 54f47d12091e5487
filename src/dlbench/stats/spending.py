"""When a comparison looks, and how much of its error rate each look may spend.

The error probability ``alpha = 1 - confidence`` is spent over the looks by the Lan-DeMets
O'Brien-Fleming-type function ``alpha(t) = 2 - 2 Φ(z_{1-alpha/2} / sqrt(t))`` with
``t = n / max_runs`` (Lan & DeMets, Biometrika 70, 1983): early looks, with few runs, spend
almost nothing, so the last look keeps nearly the power of one test at ``max_runs``.
"""

from __future__ import annotations

import math

from scipy import stats


def spent(t: float, alpha: float) -> float:
    """Error probability spent by information fraction ``t`` (0 at 0, ``alpha`` at 1)."""
    if t <= 0:
        return 0.0
    z = stats.norm.ppf(1 - alpha / 2)
    return float(2 - 2 * stats.norm.cdf(z / math.sqrt(min(t, 1.0))))


def look_schedule(min_runs: int, wave: int, max_runs: int) -> tuple[int, ...]:
    """The numbers of runs a side at which a comparison looks: ``min_runs``, then every
    ``wave`` more, up to ``max_runs``."""
    return tuple(sorted({*range(min_runs, max_runs, wave), max_runs}))
