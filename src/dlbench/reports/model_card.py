"""Model cards: each model's blocks, parameters and conv layers, counted from the built models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dlbench.registry.cell import Cell
from dlbench.reports.formatting import format_value
from dlbench.reports.manifest import MODEL_ROWS, TableSpec
from dlbench.reports.table import MISSING, RecordView, Table, default_row_label

MODEL_CARD_COLUMNS = (
    ("Blocks", "blocks"),
    ("Parameters", "parameters"),
    ("Conv layers", "conv_layers"),
)


def model_rows(spec: TableSpec, cells: Sequence[Cell]) -> list[tuple[str, list[Cell]]]:
    """One row per distinct model (or per value of ``spec.rows``) of ``cells``."""
    rows: dict[str, list[Cell]] = {}
    for cell in cells:
        row = cell.model.describe() if spec.rows == MODEL_ROWS else str(cell.value(spec.rows))
        rows.setdefault(spec.labels.get(row, row), []).append(cell)
    return list(rows.items())


def build_model_card(
    spec: TableSpec, rows: Sequence[tuple[str, Sequence[Cell]]], view: RecordView
) -> Table:
    """One row per model: its blocks, parameters and conv layers, from the stored records."""
    cards: dict[str, dict[str, Any]] = {}
    for row, cells in rows:
        card = cards.setdefault(row, {})
        for cell in cells:
            record = view.records.get(cell.id)
            if record is not None and record.model_card:
                card.update(record.model_card)
    label = spec.row_label or ("Experiment" if spec.experiments else default_row_label(spec.rows))
    headers = [label, *(title for title, _ in MODEL_CARD_COLUMNS)]
    text_rows, csv_rows = [], []
    for row, card in cards.items():
        text_rows.append([row, *(_card_text(key, card.get(key)) for _, key in MODEL_CARD_COLUMNS)])
        csv_rows.append([row, *(card.get(key, "") for _, key in MODEL_CARD_COLUMNS)])
    caption = "Counted from the built models."
    return Table(spec.title, caption, headers, text_rows, headers, csv_rows, csv_rows)


def _card_text(key: str, value: Any) -> str:
    if value is None:
        return MISSING
    return format_value("parameters", value) if key == "parameters" else str(value)
