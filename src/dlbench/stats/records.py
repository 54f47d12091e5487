"""The records of a decided comparison: its design (what the matrix's ``decide`` block says)
and where it stands (a ``Decision``)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from dlbench.stats.spending import look_schedule

#: The verdicts a decision can carry, as ``dlbench.decide`` names them.
BETTER_A, BETTER_B = "a better", "b better"
EQUIVALENT, UNDECIDED, RUNNING = "equivalent", "undecided", "running"
VERDICTS = (BETTER_A, BETTER_B, EQUIVALENT, UNDECIDED, RUNNING)
#: The most runs a comparison may ask for, and the fewest it starts from.
MAX_RUNS = 200
MIN_RUNS = 2
#: How a table's decided comparisons share the error rate: each its own, or the table's split.
FAMILIES = ("comparison", "table")


@dataclass(frozen=True)
class DecideSpec:
    """How a comparison ``A - B`` is decided: its design, fixed at its first look.

    :param rule: the stopping rule's name (``dlbench.stats.rules.RULES``).
    :param confidence: a false "better" (or "equivalent") happens with probability at most
        ``1 - confidence`` under the rule's conditions.
    :param margin: the region of practical equivalence, ``±margin`` in the metric's own units
        (accuracies are fractions: 0.005 is half a percentage point); 0 for none.
    :param min_runs: runs of each side before the first look.
    :param max_runs: the most runs of each side; undecided there, it says so.
    :param wave: runs added to each side between looks.
    :param higher_is_better: which sign of ``A - B`` favours A.
    :param family: ``comparison`` (the rate holds for each comparison) or ``table`` (for all
        the decided comparisons of the table together: ``1 - confidence`` is split among them).
    """

    rule: str = "sign"
    confidence: float = 0.95
    margin: float = 0.0
    min_runs: int = 3
    max_runs: int = 20
    wave: int = 2
    higher_is_better: bool = True
    family: str = "comparison"

    def schedule(self) -> tuple[int, ...]:
        """The planned numbers of runs per side at which the comparison looks."""
        return look_schedule(self.min_runs, self.wave, self.max_runs)

    def design(self) -> dict[str, Any]:
        """What is fixed at the first look: every setting that shapes the looks, the bounds or
        the verdicts."""
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    """Where a comparison stands.

    :param verdict: one of ``VERDICTS``: ``a better``, ``b better``, ``equivalent``,
        ``undecided`` (at ``max_runs``) or ``running`` (more runs are planned).
    :param n: the pairs the verdict rests on (the deciding look's, or the last look's).
    :param estimate: the rule's estimate of its estimand for ``A - B`` on those pairs (the
        median difference for ``sign``, the mean for ``mean``).
    :param low: the repeated confidence interval's lower end for the estimand, in the metric's
        units (``A - B``); ``high`` its upper end. Infinite where the look cannot bound it.
    :param estimand: what is decided, in words.
    :param failed_a: runs of A among those pairs that failed (or gave no finite value);
        ``failed_b`` alike.
    :param needed: for an undecided comparison, about how many runs a side a new decision
        would need for 80% power at the effect seen (``None`` when not estimable).
    :param note: a diagnostic where the rule's conditions look doubtful, else empty.
    """

    verdict: str
    n: int
    estimate: float
    low: float
    high: float
    estimand: str = ""
    failed_a: int = 0
    failed_b: int = 0
    needed: int | None = None
    note: str = ""

    @property
    def failures(self) -> str:
        """``2 of 10 runs failed (A 2, B 0)``, or empty when none did."""
        total = self.failed_a + self.failed_b
        if not total:
            return ""
        return f"{total} of {2 * self.n} runs failed (A {self.failed_a}, B {self.failed_b})"

    def is_decided(self) -> bool:
        """Whether the verdict is final: better, equivalent or undecided at ``max_runs``."""
        return self.verdict != RUNNING


def waiting(n: int = 0) -> Decision:
    """A comparison before its first look."""
    return Decision(RUNNING, n, math.nan, -math.inf, math.inf)
