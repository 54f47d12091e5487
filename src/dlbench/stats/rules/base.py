"""What a stopping rule is, and the pairing every rule starts from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from dlbench.stats.records import DecideSpec, Decision


class Rule(Protocol):
    """A stopping rule: replays the looks of a comparison and says where it stands.

    :ivar estimand: what it decides, in words (``the median of A - B``).
    :ivar anytime_valid: whether its rate holds however the design is extended after a look
        (then ``max_runs`` may be raised on stored looks).
    """

    estimand: str
    anytime_valid: bool

    def replay(
        self, a: np.ndarray, b: np.ndarray, looks: Sequence[int], spec: DecideSpec, alpha: float
    ) -> Decision:
        """Replay ``looks`` (runs a side, increasing) on the paired runs ``a[i]``, ``b[i]`` (NaN
        for a run that failed or gave no finite value) and return the first decisive look's
        decision, else the last look's as ``running``; the error rate spent is ``alpha``."""
        ...

    def needed(self, a: np.ndarray, b: np.ndarray, spec: DecideSpec, alpha: float) -> int | None:
        """About how many runs a side a new decision by this rule would need for 80% power at
        the effect seen on these pairs (``None`` where not estimable)."""
        ...


def advantages(a: np.ndarray, b: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """A's advantage in each pair (``A - B``, negated where lower is better). A failed run is a
    loss for its side (``-inf`` when A failed, ``+inf`` when B did); both failed is a tie."""
    with np.errstate(invalid="ignore"):
        found = (a - b) if higher_is_better else (b - a)
    a_failed, b_failed = np.isnan(a), np.isnan(b)
    found[a_failed & ~b_failed] = -np.inf
    found[b_failed & ~a_failed] = np.inf
    found[a_failed & b_failed] = 0.0
    return found


def oriented(low: float, high: float, estimate: float, higher_is_better: bool) -> tuple:
    """An interval and estimate of A's advantage, turned back into ``A - B`` units."""
    if higher_is_better:
        return estimate, low, high
    return -estimate, -high, -low
