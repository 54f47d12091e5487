"""Leaderboards: a row per configuration of the listed experiments, a column per metric."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from dlbench.registry.cell import Cell, varying_keys
from dlbench.registry.records import CellRecord, metric_value
from dlbench.reports.formatting import format_values, metric_label
from dlbench.reports.manifest import ExperimentEntry, TableSpec
from dlbench.reports.table import RecordView, Table


def cell_label(cell: Cell, keys: Sequence[str]) -> str:
    """What tells ``cell`` apart from others: ``residual_mlp, depth=8``."""
    parts = []
    for key in keys:
        value = cell.value(key)
        parts.append(str(value) if key.endswith(".name") else f"{key.rpartition('.')[2]}={value}")
    return ", ".join(parts)


def leaderboard_rows(
    spec: TableSpec, experiments: Mapping[str, ExperimentEntry], by_model: bool = False
) -> list[tuple[str, list[Cell]]]:
    """Rows of the listed experiments: (label, cells), one row per configuration (its seeds
    together) or, ``by_model``, one per distinct model; labelled by the experiment's title and,
    where it has several rows, what tells them apart."""
    rows: list[tuple[str, list[Cell]]] = []
    for name in spec.experiments:
        if name not in experiments:
            continue
        title, cells = experiments[name].title, list(experiments[name].cells)
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
    spec: TableSpec, experiments: Mapping[str, ExperimentEntry], view: RecordView
) -> Table:
    """A row per configuration of the listed experiments, a column per metric."""
    headers = [spec.row_label or "Experiment"]
    for column in spec.metrics:
        metric, _, at = column.partition("@")
        headers.append(metric_label(metric) + (f" ({at})" if at else ""))
    rows, csv_rows = [], []
    several_seeds = False
    for label, cells in leaderboard_rows(spec, experiments):
        finished = [record for cell in cells if (record := view.finished(cell.id)) is not None]
        text_row: list[str] = [label]
        csv_row: list[Any] = [label]
        for column in spec.metrics:
            metric, _, at = column.partition("@")
            values = [
                v for record in finished if (v := _column_value(record, metric, at)) is not None
            ]
            several_seeds |= len(values) > 1
            text_row.append(
                format_values(metric, values) + view.mark(c.id for c in cells)
                if values
                else view.absence(c.id for c in cells)
            )
            csv_row.append(statistics.fmean(values) if values else "")
        rows.append(text_row)
        csv_rows.append(csv_row)
    caption = "(best) is the best-validation epoch, (last) the final epoch"
    if several_seeds:
        caption += "; mean ± standard deviation over seeds"
    return Table(spec.title, caption + ".", headers, rows, headers, csv_rows, csv_rows)


def _column_value(record: CellRecord, metric: str, at: str) -> float | None:
    if at:
        return metric_value(record, metric, at)
    value = record.final.get(metric, record.model_card.get(metric))
    return float(value) if isinstance(value, (int, float)) else None
