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
from dlbench.stats.probability import ProbabilityOfBetter
from dlbench.stats.records import BETTER_A, BETTER_B, EQUIVALENT, UNDECIDED, Decision
from dlbench.stats.rules import get_rule

#: The columns a table's CSV gains when one of its comparisons is decided.
DECISION_CSV_COLUMNS = (
    "verdict", "rule", "pairs", "estimate", "low", "high", "margin", "confidence", "failed_a",
    "failed_b",
)  # fmt: skip


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
    """What a decided cell says, in plain words with the table's labels: the estimate and its
    interval, the verdict, the pairs, and the runs that failed."""
    if decision.n < 1 or (not math.isfinite(decision.estimate) and not decision.failures):
        return f"waiting for runs (n={decision.n})"
    interval = interval_text(spec.metric, decision.estimate, decision.low, decision.high)
    assert derived.decide is not None
    first = labels.get(derived.minuend, derived.minuend)
    second = labels.get(derived.subtrahend, derived.subtrahend)
    failed = f", {decision.failures}" if decision.failures else ""
    if decision.verdict == BETTER_A:
        text = f"{interval} {first} better, n={decision.n}"
    elif decision.verdict == BETTER_B:
        text = f"{interval} {second} better, n={decision.n}"
    elif decision.verdict == EQUIVALENT:
        margin = margin_text(spec.metric, derived.decide.margin)
        text = f"{interval} equivalent within {margin}, n={decision.n}"
    elif decision.verdict == UNDECIDED:
        needs = (
            f"; about {decision.needed} runs a side would give a new decision 80% power"
            if decision.needed
            else ""
        )
        text = f"{interval} undecided at n={decision.n}{needs}"
        if decision.note.startswith("no pair can complete"):
            text = f"undecided at n={decision.n}: {decision.note}"
    else:
        text = f"{interval} undecided so far, n={decision.n} of up to {derived.decide.max_runs}"
    return text + failed


def decision_csv(decision: Decision, derived: DerivedColumn) -> list[object]:
    """The values of ``DECISION_CSV_COLUMNS`` for one decided cell."""
    assert derived.decide is not None
    ends = [v if math.isfinite(v) else "" for v in (decision.low, decision.high)]
    spec = derived.decide
    estimate = decision.estimate if math.isfinite(decision.estimate) else ""
    return [
        decision.verdict, spec.rule, decision.n, estimate, *ends, spec.margin, spec.confidence,
        decision.failed_a, decision.failed_b,
    ]  # fmt: skip


def p_better_text(found: ProbabilityOfBetter | None) -> str:
    """``0.80 [0.49, 0.94] of 10``: P(A > B) over the pairs, a tie counting half, with its
    Wilson interval."""
    if found is None:
        return "—"
    return f"{found.value:.2f} [{found.low:.2f}, {found.high:.2f}] of {found.n}"


def decided_caption(spec: TableSpec, family_sizes: Mapping[str, int]) -> str:
    """What the decided columns computed, in plain words, one sentence each.

    :param family_sizes: derived column title -> the comparisons of the table sharing its
        error rate (``family: table``).
    """
    parts = []
    for derived in spec.derived:
        decide = derived.decide
        if decide is None:
            continue
        equivalence = (
            f", and equivalent when it lies inside {margin_text(spec.metric, decide.margin)}"
            if decide.margin
            else ""
        )
        size = family_sizes.get(derived.title, 1)
        rate = f"{1 - decide.confidence:.0%}"
        guarantee = (
            f"a false 'better' at most {rate} for the table's {size} decided comparisons together"
            if decide.family == "table" and size > 1
            else f"a false 'better' at most {rate} for each comparison (not for the table "
            "as a whole)"
        )
        first = spec.labels.get(derived.minuend, derived.minuend)
        second = spec.labels.get(derived.subtrahend, derived.subtrahend)
        estimand = get_rule(decide.rule).estimand.replace("A - B", f"{first} - {second}")
        parts.append(
            f"{derived.title} compares {estimand} over runs paired by "
            f"seed, added {decide.wave} at a time from {decide.min_runs} to at most "
            f"{decide.max_runs} a side (rule {decide.rule}); a side is called better when the "
            f"{decide.confidence:.0%} interval, which holds at every look, excludes zero"
            f"{equivalence}; failed runs count as losses; {guarantee}"
        )
    return "; ".join(parts)


def comparison_for(
    spec: TableSpec, derived: DerivedColumn, row: str, a: Sequence[Cell], b: Sequence[Cell]
) -> Comparison:
    """The comparison a decided cell of the table shows (sides in seed order, as planned)."""
    return Comparison(spec, derived, row, by_seed(a), by_seed(b))
