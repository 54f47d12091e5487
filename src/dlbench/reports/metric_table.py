"""A metric laid out by rows and columns over an experiment's cells: mean over seeds, spread, n,
and derived difference columns paired by seed."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dlbench.registry.cell import VARY_SOURCES, Cell
from dlbench.registry.records import metric_value
from dlbench.reports.decided_columns import (
    DECISION_CSV_COLUMNS,
    decided_caption,
    decision_csv,
    interval_text,
    p_better_text,
    verdict_text,
)
from dlbench.reports.decisions import Comparison, comparisons
from dlbench.reports.formatting import (
    PER_EPOCH,
    format_value,
    format_values,
    metric_label,
    t_half_width,
)
from dlbench.reports.manifest import DerivedColumn, TableSpec
from dlbench.reports.table import (
    MISSING,
    RecordView,
    Table,
    default_row_label,
    ordered,
)
from dlbench.stats.probability import probability_of_better


def build_metric_table(spec: TableSpec, cells: Sequence[Cell], view: RecordView) -> Table:
    """Lay the cells' metric out by ``spec.rows`` and ``spec.columns``; seeds are averaged."""
    row_values = ordered(str(cell.value(spec.rows)) for cell in cells)
    column_values = (
        ordered(str(cell.value(spec.columns)) for cell in cells) if spec.columns else [""]
    )
    groups: dict[tuple[str, str], list[Cell]] = {}
    for cell in cells:
        column = str(cell.value(spec.columns)) if spec.columns else ""
        groups.setdefault((str(cell.value(spec.rows)), column), []).append(cell)
    seeds = sorted({cell.seed for cell in cells})
    label = metric_label(spec.metric)
    epoch_note = (
        f" ({'best-val' if spec.at == 'best' else 'last'} epoch)"
        if spec.metric in PER_EPOCH
        else ""
    )
    value_headers = (
        [spec.labels.get(c, c) for c in column_values] if spec.columns else [label + epoch_note]
    )
    row_label = spec.row_label or default_row_label(spec.rows)
    headers = [row_label, *value_headers, *(h for d in spec.derived for h in _headers(spec, d))]
    decided = {(c.derived.title, c.row): c for c in comparisons(cells, [spec])}
    counts: set[int] = set()
    paired = False
    rows: list[list[str]] = []
    csv_rows: list[list[Any]] = []
    sort_values: list[list[Any]] = []
    for row in row_values:
        text_row: list[str] = [row]
        value_row: list[Any] = [row]
        by_seed: dict[str, dict[int, float]] = {}
        for column in column_values:
            group = groups.get((row, column), [])
            by_seed[column] = {
                cell.seed: v
                for cell in group
                if (record := view.finished(cell.id)) is not None
                and (v := metric_value(record, spec.metric, spec.at)) is not None
            }
            values = list(by_seed[column].values())
            if values:
                counts.add(len(values))
                text = format_values(spec.metric, values, spec.interval)
                text_row.append(text + view.mark(c.id for c in group))
            else:
                text_row.append(view.absence(c.id for c in group))
            csv_rows.append(_csv_row(row, spec.labels.get(column, column), by_seed[column], seeds))
            value_row.append(csv_rows[-1][3] if by_seed[column] else None)
        for derived in spec.derived:
            comparison = decided.get((derived.title, row))
            cells_of = [
                *groups.get((row, derived.minuend), []),
                *groups.get((row, derived.subtrahend), []),
            ]
            mark = view.mark(c.id for c in cells_of)
            texts, csv_row, is_paired = _derived_cells(
                spec, derived, comparison, by_seed, view, mark
            )
            paired |= is_paired and derived.decide is None
            text_row += texts
            csv_rows.append(_csv_row(row, derived.title, csv_row[0], seeds) + csv_row[1])
            value_row += [csv_rows[-1][3] if csv_row[0] else None] + [None] * (len(texts) - 1)
        rows.append(text_row)
        sort_values.append(value_row)
    families = {c.derived.title: c.family_size for c in decided.values()}
    caption = _caption(spec, label, epoch_note, counts, paired, families)
    if len(seeds) > 1:
        sources = {source for cell in cells for source in cell.vary}
        named = [VARIED[s] for s in VARY_SOURCES if s in sources]
        caption = caption.removesuffix(".") + f"; each seed varies the {_series(named)}."
    csv_headers = [row_label, default_row_label(spec.columns) if spec.columns else "metric"]
    csv_headers += ["n", "mean", "std", *(f"seed_{seed}" for seed in seeds)]
    if any(d.decide for d in spec.derived):
        csv_headers += DECISION_CSV_COLUMNS
        width = len(csv_headers)
        csv_rows = [row + [""] * (width - len(row)) for row in csv_rows]
    return Table(spec.title, caption, headers, rows, csv_headers, csv_rows, sort_values)


#: How each source of randomness a seed varies reads in a caption.
VARIED = {"init": "initial weights", "order": "batch order", "split": "train/validation split"}


def _series(words: Sequence[str]) -> str:
    return ", ".join(words[:-1]) + f" and {words[-1]}" if len(words) > 1 else "".join(words)


def _headers(spec: TableSpec, derived: DerivedColumn) -> list[str]:
    """A derived column's header, and its P(A > B) column's."""
    if not derived.p_better:
        return [derived.title]
    first = spec.labels.get(derived.minuend, derived.minuend)
    second = spec.labels.get(derived.subtrahend, derived.subtrahend)
    return [derived.title, f"P({first} > {second})"]


def _derived_cells(
    spec: TableSpec,
    derived: DerivedColumn,
    comparison: Comparison | None,
    by_seed: Mapping[str, Mapping[int, float]],
    view: RecordView,
    mark: str,
) -> tuple[list[str], tuple[dict[int, float], list[Any]], bool]:
    """A derived column's text cells (its P(A > B) too), its per-seed differences with its
    decision's CSV values, and whether the differences were paired; ``mark`` notes stale or
    failed runs among its cells."""
    first, second = by_seed.get(derived.minuend, {}), by_seed.get(derived.subtrahend, {})
    probability = None
    if comparison is not None:
        decision = comparison.standing(view.records).decision
        texts = [verdict_text(spec, derived, decision, spec.labels) + mark]
        reached = view.first_verdicts.get(comparison.key())
        if reached and (reached.get("verdict"), reached.get("n")) != (
            decision.verdict,
            decision.n,
        ):
            texts[0] += (
                f" (revised: first {reached.get('verdict')} at n={reached.get('n')}; failed "
                "runs were retried since)"
            )
        extra = decision_csv(decision, derived)
        differences = {s: first[s] - second[s] for s in sorted(set(first) & set(second))}
        paired = True
        probability = comparison.probability(view.records, decision)
    else:
        text, differences, paired = _derived(spec, first, second)
        texts, extra = [text + (mark if differences else "")], []
        if paired:
            shared = sorted(set(first) & set(second))
            probability = probability_of_better(
                np.array([first[s] for s in shared]),
                np.array([second[s] for s in shared]),
                spec.better != "lower",
                0.95,
            )
    if derived.p_better:
        texts.append(p_better_text(probability) if paired else MISSING)
    return texts, (differences, extra), paired


def _derived(
    spec: TableSpec, first: Mapping[int, float], second: Mapping[int, float]
) -> tuple[str, dict[int, float], bool]:
    """A derived column's text, its per-seed differences, and whether they were paired."""
    shared = sorted(set(first) & set(second))
    if len(shared) >= 2:
        # Paired by seed: the same seed's split and initial weights on both sides.
        differences = {s: first[s] - second[s] for s in shared}
        return paired_difference(spec.metric, list(differences.values()))[0], differences, True
    if first and second:
        difference = statistics.fmean(first.values()) - statistics.fmean(second.values())
        seed = shared[0] if shared else -1
        return format_value(spec.metric, difference, signed=True), {seed: difference}, False
    return MISSING, {}, False


def _csv_row(row: str, column: str, by_seed: Mapping[int, float], seeds: list[int]) -> list[Any]:
    values = list(by_seed.values())
    mean = statistics.fmean(values) if values else ""
    std = statistics.stdev(values) if len(values) > 1 else ""
    return [row, column, len(values), mean, std, *(by_seed.get(seed, "") for seed in seeds)]


def _caption(
    spec: TableSpec,
    label: str,
    epoch_note: str,
    counts: set[int],
    paired: bool,
    families: Mapping[str, int],
) -> str:
    caption = f"{label}{epoch_note.replace('best-val', 'best-validation')}"
    if spec.columns:
        caption += f" by {default_row_label(spec.columns).lower()}"
    if counts and max(counts) > 1:
        n = f"{min(counts)}" if len(counts) == 1 else f"{min(counts)} to {max(counts)}"
        spread = "95% confidence interval" if spec.interval == "ci95" else "standard deviation"
        caption += f"; mean ± {spread} over n = {n} seeds"
    if spec.derived:
        caption += "; " + "; ".join(
            f"{d.title} = {spec.labels.get(d.minuend, d.minuend)} - "
            f"{spec.labels.get(d.subtrahend, d.subtrahend)}"
            for d in spec.derived
        )
    if paired:
        caption += (
            "; differences are paired by seed, shown as mean [95% confidence interval], "
            "* where the interval excludes zero"
        )
    decided = decided_caption(spec, families)
    if decided:
        caption += f"; {decided}"
    if any(d.p_better for d in spec.derived):
        better = "lower" if spec.better == "lower" else "higher"
        caption += (
            f"; P(A > B): the share of paired runs where A's value is the better ({better}) "
            "one, a tie counting half, with its 95% Wilson interval"
        )
    return caption + "."


def paired_difference(metric: str, differences: Sequence[float]) -> tuple[str, float]:
    """Mean of per-seed differences with its 95% t interval in brackets (so that ``±`` in a
    table always means the spread over seeds), starred when the interval excludes zero."""
    mean = statistics.fmean(differences)
    half = t_half_width(differences)
    text = interval_text(metric, mean, mean - half, mean + half)
    return (text + " *" if abs(mean) > half else text), mean
