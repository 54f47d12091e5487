"""The probability that A beats B on a run (Bouthillier et al., MLSys 2021's probability of
outperforming), from paired runs, with a Wilson score interval (Wilson, JASA 22, 1927)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from dlbench.stats.rules.base import advantages


@dataclass(frozen=True)
class ProbabilityOfBetter:
    """``P(A > B)`` estimated on ``n`` pairs, with its interval at the comparison's confidence.

    :param value: the share of pairs A wins, a tie counting one half.
    """

    value: float
    low: float
    high: float
    n: int


def probability_of_better(
    a: np.ndarray, b: np.ndarray, higher_is_better: bool, confidence: float
) -> ProbabilityOfBetter | None:
    """``P(A > B)`` over the paired runs ``a``, ``b`` (NaN for a failed run, a loss for its side),
    "better" in the metric's direction; ``None`` without pairs."""
    edge = advantages(a, b, higher_is_better)
    n = len(edge)
    if not n:
        return None
    value = (float((edge > 0).sum()) + 0.5 * float((edge == 0).sum())) / n
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    centre = (value + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(value * (1 - value) / n + z * z / (4 * n * n))
    return ProbabilityOfBetter(value, max(0.0, centre - half), min(1.0, centre + half), n)
