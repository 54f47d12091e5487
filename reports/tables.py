"""Build one experiment table from stored records: a pure function, no training, no plugins."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.table_spec import MODEL_ROWS, TableSpec
from registry.cell import Cell, varying_keys
from registry.run import CellRecord
from reports.formatting import (
    PER_EPOCH,
    format_value,
    format_values,
    is_accuracy,
    metric_label,
    t_half_width,
)

MISSING = "—"
FAILED = "failed"
SKIPPED = "skipped"


@dataclass(frozen=True)
class Table:
    """A table ready to render: formatted text for markdown, numbers for CSV."""

    title: str
    caption: str
    headers: list[str]
    rows: list[list[str]]
    csv_headers: list[str]
    csv_rows: list[list[Any]]


def metric_value(record: CellRecord, metric: str, at: str) -> float | None:
    """``metric`` from a record's final metrics, at the ``best`` or ``last`` epoch."""
    value = record.final.get(f"{metric}@{at}", record.final.get(metric))
    return float(value) if isinstance(value, (int, float)) else None


def default_row_label(key: str) -> str:
    """``model.depth`` -> ``Depth``; ``model.name`` -> ``Model``."""
    section, _, param = key.partition(".")
    text = section if param in ("", "name") else param
    return text.replace("_", " ").capitalize()


def build_table(
    spec: TableSpec,
    cells: Sequence[Cell],
    records: Mapping[str, CellRecord],
    experiments: Mapping[str, tuple[str, list[Cell]]] | None = None,
) -> Table:
    """Lay the cells' metric out by ``spec.rows`` and ``spec.columns``; seeds are averaged.

    A ``model_card`` table lists each model's blocks, parameters and conv layers instead, and a
    ``leaderboard`` a row per configuration of ``spec.experiments`` (looked up in
    ``experiments``: name -> (title, cells)) with a column per metric.
    """
    if spec.kind == "model_card":
        if spec.experiments:
            models = leaderboard_rows(spec, experiments or {}, by_model=True)
            return build_model_card(spec, models, records)
        return build_model_card(spec, _model_rows(spec, cells), records)
    if spec.kind == "leaderboard":
        return build_leaderboard(spec, experiments or {}, records)
    row_values = _ordered(str(cell.value(spec.rows)) for cell in cells)
    column_values = (
        _ordered(str(cell.value(spec.columns)) for cell in cells) if spec.columns else [""]
    )
    groups: dict[tuple[str, str], list[Cell]] = {}
    for cell in cells:
        column = str(cell.value(spec.columns)) if spec.columns else ""
        groups.setdefault((str(cell.value(spec.rows)), column), []).append(cell)

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
    headers = [row_label, *value_headers, *(d.title for d in spec.derived)]
    counts: set[int] = set()
    paired = False
    rows: list[list[str]] = []
    csv_rows: list[list[Any]] = []
    for row in row_values:
        text_row: list[str] = [row]
        csv_row: list[Any] = [row]
        means: dict[str, float] = {}
        by_seed: dict[str, dict[int, float]] = {}
        for column in column_values:
            group = groups.get((row, column), [])
            by_seed[column] = {
                cell.seed: v
                for cell in group
                if (record := records.get(cell.id)) is not None
                and record.status == "ok"
                and (v := metric_value(record, spec.metric, spec.at)) is not None
            }
            values = list(by_seed[column].values())
            if values:
                counts.add(len(values))
                means[column] = statistics.fmean(values)
                text_row.append(format_values(spec.metric, values, spec.interval))
                csv_row.append(means[column])
            else:
                outcomes = {r.status for cell in group if (r := records.get(cell.id)) is not None}
                text_row.append(
                    FAILED
                    if "failed" in outcomes
                    else SKIPPED
                    if "skipped" in outcomes
                    else MISSING
                )
                csv_row.append("")
        for derived in spec.derived:
            first = by_seed.get(derived.minuend, {})
            second = by_seed.get(derived.subtrahend, {})
            shared = sorted(set(first) & set(second))
            if len(shared) >= 2:
                # Paired by seed: the same seed's split and initial weights on both sides.
                paired = True
                text, difference = paired_difference(
                    spec.metric, [first[s] - second[s] for s in shared]
                )
                text_row.append(text)
                csv_row.append(difference)
            elif derived.minuend in means and derived.subtrahend in means:
                difference = means[derived.minuend] - means[derived.subtrahend]
                text_row.append(format_value(spec.metric, difference, signed=True))
                csv_row.append(difference)
            else:
                text_row.append(MISSING)
                csv_row.append("")
        rows.append(text_row)
        csv_rows.append(csv_row)

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
            "; differences are paired by seed, shown as mean ± 95% confidence interval, "
            "* where the interval excludes zero"
        )
    return Table(
        title=spec.title,
        caption=caption + ".",
        headers=headers,
        rows=rows,
        csv_headers=headers,
        csv_rows=csv_rows,
    )


MODEL_CARD_COLUMNS = (
    ("Blocks", "blocks"),
    ("Parameters", "parameters"),
    ("Conv layers", "conv_layers"),
)


def _model_rows(spec: TableSpec, cells: Sequence[Cell]) -> list[tuple[str, list[Cell]]]:
    rows: dict[str, list[Cell]] = {}
    for cell in cells:
        row = cell.model.describe() if spec.rows == MODEL_ROWS else str(cell.value(spec.rows))
        rows.setdefault(spec.labels.get(row, row), []).append(cell)
    return list(rows.items())


def build_model_card(
    spec: TableSpec, rows: Sequence[tuple[str, Sequence[Cell]]], records: Mapping[str, CellRecord]
) -> Table:
    """One row per model: its blocks, parameters and conv layers, from the stored records."""
    cards: dict[str, dict[str, Any]] = {}
    for row, cells in rows:
        card = cards.setdefault(row, {})
        for cell in cells:
            record = records.get(cell.id)
            if record is not None and record.model_card:
                card.update(record.model_card)
    label = spec.row_label or ("Experiment" if spec.experiments else default_row_label(spec.rows))
    headers = [label, *(title for title, _ in MODEL_CARD_COLUMNS)]
    text_rows, csv_rows = [], []
    for row, card in cards.items():
        text_rows.append([row, *(_card_text(key, card.get(key)) for _, key in MODEL_CARD_COLUMNS)])
        csv_rows.append([row, *(card.get(key, "") for _, key in MODEL_CARD_COLUMNS)])
    return Table(
        title=spec.title,
        caption="Counted from the built models.",
        headers=headers,
        rows=text_rows,
        csv_headers=headers,
        csv_rows=csv_rows,
    )


def _card_text(key: str, value: Any) -> str:
    if value is None:
        return MISSING
    return format_value("parameters", value) if key == "parameters" else str(value)


def paired_difference(metric: str, differences: Sequence[float]) -> tuple[str, float]:
    """Mean of per-seed differences ± the half-width of its 95% t interval, starred when the
    interval excludes zero."""
    mean = statistics.fmean(differences)
    half = t_half_width(differences)
    text = format_value(metric, mean, signed=True)
    width = f"{half * 100:.2f}" if is_accuracy(metric) else format_value(metric, half)
    text = text.removesuffix("%") + f" ± {width}" + ("%" if is_accuracy(metric) else "")
    return (text + " *" if abs(mean) > half else text), mean


def cell_label(cell: Cell, keys: Sequence[str]) -> str:
    """What tells ``cell`` apart from others: ``residual_mlp, depth=8``."""
    parts = []
    for key in keys:
        value = cell.value(key)
        parts.append(str(value) if key.endswith(".name") else f"{key.rpartition('.')[2]}={value}")
    return ", ".join(parts)


def leaderboard_rows(
    spec: TableSpec,
    experiments: Mapping[str, tuple[str, list[Cell]]],
    by_model: bool = False,
) -> list[tuple[str, list[Cell]]]:
    """Rows of the listed experiments: (label, cells), one row per configuration (its seeds
    together) or, ``by_model``, one per distinct model; labelled by the experiment's title and,
    where it has several rows, what tells them apart."""
    rows: list[tuple[str, list[Cell]]] = []
    for name in spec.experiments:
        if name not in experiments:
            continue
        title, cells = experiments[name]
        keys = [key for key in varying_keys(cells) if key != "seed"]
        groups: dict[str, list[Cell]] = {}
        for cell in cells:
            label = cell.model.describe() if by_model else cell_label(cell, keys)
            groups.setdefault(label, []).append(cell)
        for label, group in groups.items():
            text = title if len(groups) == 1 else f"{title}: {label}"
            rows.append((spec.labels.get(text, text), group))
    return rows


def build_leaderboard(
    spec: TableSpec,
    experiments: Mapping[str, tuple[str, list[Cell]]],
    records: Mapping[str, CellRecord],
) -> Table:
    """A row per configuration of the listed experiments, a column per metric."""
    headers = [spec.row_label or "Experiment"]
    for column in spec.metrics:
        metric, _, at = column.partition("@")
        headers.append(metric_label(metric) + (f" ({at})" if at else ""))
    rows, csv_rows = [], []
    several_seeds = False
    for label, cells in leaderboard_rows(spec, experiments):
        finished = [
            record
            for cell in cells
            if (record := records.get(cell.id)) is not None and record.status == "ok"
        ]
        text_row: list[str] = [label]
        csv_row: list[Any] = [label]
        for column in spec.metrics:
            metric, _, at = column.partition("@")
            values = [
                v for record in finished if (v := _column_value(record, metric, at)) is not None
            ]
            several_seeds |= len(values) > 1
            text_row.append(format_values(metric, values) if values else MISSING)
            csv_row.append(statistics.fmean(values) if values else "")
        rows.append(text_row)
        csv_rows.append(csv_row)
    caption = "(best) is the best-validation epoch, (last) the final epoch"
    if several_seeds:
        caption += "; mean ± standard deviation over seeds"
    return Table(spec.title, caption + ".", headers, rows, headers, csv_rows)


def _column_value(record: CellRecord, metric: str, at: str) -> float | None:
    if at:
        return metric_value(record, metric, at)
    value = record.final.get(metric, record.model_card.get(metric))
    return float(value) if isinstance(value, (int, float)) else None


def _ordered(values: Any) -> list[str]:
    return list(dict.fromkeys(values))
