"""The settings of a ``decide`` block, declared once: the matrix file, ``bench schema`` and
``dlbench.decide`` all check values against these."""

from __future__ import annotations

from dlbench.registry.params import Param
from dlbench.stats.records import FAMILIES, MAX_RUNS, MIN_RUNS
from dlbench.stats.rules import DEFAULT_RULE, RULES

#: A margin larger than this is a typo in any metric's units.
MAX_MARGIN = 1e6

DECIDE_PARAMS = {
    "rule": Param(
        DEFAULT_RULE,
        str,
        "the stopping rule: sign (the median difference, exact for any spread), sign-anytime "
        "(the same, valid however far max_runs is raised later) or mean (the mean difference, "
        "exact for normal differences)",
        choices=tuple(RULES),
    ),
    "confidence": Param(
        0.95,
        float,
        "a false 'better' or 'equivalent' at most 1 - confidence",
        minimum=0.5,
        maximum=0.999,
        exclusive_minimum=True,
    ),
    "margin": Param(
        0.0,
        float,
        "region of practical equivalence, ±margin in the metric's units (0.005 = half a "
        "percentage point of accuracy); 0 for none",
        minimum=0,
        maximum=MAX_MARGIN,
    ),
    "min_runs": Param(3, int, "runs of each side before the first look", minimum=MIN_RUNS),
    "max_runs": Param(20, int, "the most runs of each side", minimum=MIN_RUNS, maximum=MAX_RUNS),
    "wave": Param(2, int, "runs added to each side between looks", minimum=1, maximum=MAX_RUNS),
    "better": Param(
        None,
        str,
        "which values are better (default: as the metric declares it)",
        choices=("higher", "lower"),
        nullable=True,
    ),
    "family": Param(
        "comparison",
        str,
        "comparison: the rate holds for each decided comparison; table: for all of a table's "
        "decided comparisons together (1 - confidence split among them)",
        choices=FAMILIES,
    ),
}
