"""``rule: sign-anytime``: the median difference, decided by an anytime-valid sign test.

Estimand: the median of the paired difference ``A - B``, as for ``rule: sign``. The evidence
against "no median difference" after ``W`` pairs favouring A and ``L`` favouring B is the
e-value ``E = B(W + 1/2, L + 1/2) / B(1/2, 1/2) · 2^(W + L)`` (the likelihood ratio of a
Beta(1/2, 1/2) mixture of success probabilities against one half): a nonnegative martingale
under the null, so by Ville's inequality it ever reaches ``1 / alpha`` with probability at most
``alpha`` (Howard, Ramdas, McAuliffe & Sekhon, Ann. Stat. 49, 2021; Waudby-Smith & Ramdas,
JRSS-B 86, 2024). A side is better once ``E >= 1 / alpha`` in its favour; the interval for the
median is the same order-statistic interval at that threshold, a confidence sequence.

The guarantee holds at every look, however many and whenever they are taken: ``max_runs`` may
be raised after the comparison has looked (the stored design allows it), and a decision may be
continued later. The price is power: with at most 20 runs a side it needs 17 of 20 pairs for A
where ``rule: sign`` needs 15. A tie (equal values, or both runs failed) counts against the side
being called better, which only makes the test more cautious.
"""

from __future__ import annotations

import math
from functools import cache

from scipy.special import betaln

from dlbench.stats.rules.sign import SignRule

#: The mixture's Beta(a, a) prior over the probability that a pair favours A.
PRIOR = 0.5


def e_value(wins: int, losses: int) -> float:
    """The mixture e-value against "each pair favours A with probability one half"."""
    log = betaln(wins + PRIOR, losses + PRIOR) - betaln(PRIOR, PRIOR)
    return math.exp(log + (wins + losses) * math.log(2))


@cache
def anytime_bound(n: int, alpha: float) -> int:
    """The pairs of ``n`` that must favour one side for ``E >= 1 / alpha`` (``n + 1`` when no
    count suffices)."""
    return next((u for u in range(n // 2 + 1, n + 1) if e_value(u, n - u) >= 1 / alpha), n + 1)


class AnytimeSignRule(SignRule):
    """The anytime-valid sign test (see the module's docstring)."""

    estimand = "the median of A - B"
    anytime_valid = True

    def bounds(self, looks: tuple[int, ...], max_runs: int, alpha: float) -> tuple[int, ...]:
        """``u_k`` for each look: independent of the looks and of ``max_runs``."""
        return tuple(anytime_bound(n, alpha) for n in looks)
