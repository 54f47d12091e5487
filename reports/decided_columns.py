"""How a decided comparison reads in a table: its verdict, the pairs it rests on, its repeated
confidence interval and margin; the optional P(A > B) column; and the caption that says exactly
what was computed."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from dlbench.registry.cell import Cell
from dlbench.reports.decisions import Comparison, by_seed
from dlbench.reports.formatting import format_value, is_accuracy
from dlbench.reports.manifest import DerivedColumn, TableSpec
from dlbench.reports.sequential import (
    BETTER_A,
    BETTER_B,
    EQUIVALENT,
    UNDECIDED,
    Decision,
    probability_of_better,
)

#: The columns a table's CSV gains when one of its comparisons is decided.
DECISION_CSV_COLUMNS = ("verdict", "pairs", "low", "high", "margin", "confidence")


def interval_text(metric: str, mean: float, low: float, high: float) -> str:
    """``+1.20 [+0.31, +2.09]%`` (accuracies in points)."""
    if is_accuracy(metric):
        ends = ", ".join(
            format_value(metric, v, signed=True).removesuffix("%") for v in (low, high)
        )
        return f"{format_value(metric, mean, signed=True).removesuffix('%')} [{ends}]%"
    ends = ", ".join(format_value(metric, v, signed=True) for v in (low, high))
    return f"{format_value(metric, mean, signed=True)} [{ends}]"


def margin_text(metric: str, margin: float) -> str:
    """``±0.50%``."""
    return f"±{margin * 100:.2f}%" if is_accuracy(metric) else f"±{format_value(metric, margin)}"


def verdict_text(
    spec: TableSpec, derived: DerivedColumn, decision: Decision, labels: Mapping[str, str]
) -> str:
    """What a decided cell says: interval, verdict and pairs."""
    if decision.n < 2 or not math.isfinite(decision.mean):
        return f"waiting for runs (n={decision.n})"
    interval = interval_text(spec.metric, decision.mean, decision.low, decision.high)
    assert derived.decide is not None
    first = labels.get(derived.minuend, derived.minuend)
    second = labels.get(derived.subtrahend, derived.subtrahend)
    if decision.verdict == BETTER_A:
        return f"{interval} {first} better, n={decision.n}"
    if decision.verdict == BETTER_B:
        return f"{interval} {second} better, n={decision.n}"
    if decision.verdict == EQUIVALENT:
        margin = margin_text(spec.metric, derived.decide.margin)
        return f"{interval} equivalent within {margin}, n={decision.n}"
    if decision.verdict == UNDECIDED:
        needs = f"; about {decision.needed} would decide" if decision.needed else ""
        return f"{interval} undecided at n={decision.n}{needs}"
    return f"{interval} undecided so far, n={decision.n} of up to {derived.decide.max_runs}"


def decision_csv(decision: Decision, derived: DerivedColumn) -> list[object]:
    """The values of :data:`DECISION_CSV_COLUMNS` for one decided cell."""
    assert derived.decide is not None
    ends = [v if math.isfinite(v) else "" for v in (decision.low, decision.high)]
    spec = derived.decide
    return [decision.verdict, decision.n, *ends, spec.margin, spec.confidence]


def p_better_text(differences: Sequence[float], confidence: float) -> str:
    """``0.80 [0.49, 0.94] of 10``: P(A > B) over the pairs that differ, Wilson interval."""
    found = probability_of_better(differences, confidence)
    if found is None:
        return "—"
    share, low, high = found
    differing = sum(1 for d in differences if d != 0)
    return f"{share:.2f} [{low:.2f}, {high:.2f}] of {differing}"


def decided_caption(spec: TableSpec) -> str:
    """What the decided columns computed, in one sentence each."""
    parts = []
    for derived in spec.derived:
        decide = derived.decide
        if decide is None:
            continue
        equivalence = (
            f", equivalent when inside {margin_text(spec.metric, decide.margin)}"
            if decide.margin
            else ""
        )
        parts.append(
            f"{derived.title} is decided on runs paired by seed, added {decide.wave} at a time "
            f"from {decide.min_runs} to at most {decide.max_runs} per side: "
            f"{decide.confidence:.0%} repeated confidence intervals (group-sequential, "
            f"O'Brien-Fleming-type error spending), better when the interval excludes zero"
            f"{equivalence}"
        )
    return "; ".join(parts)


def comparison_for(
    spec: TableSpec, derived: DerivedColumn, row: str, a: Sequence[Cell], b: Sequence[Cell]
) -> Comparison:
    """The comparison a decided cell of the table shows (sides in seed order, as planned)."""
    return Comparison(spec, derived, row, by_seed(a), by_seed(b))
