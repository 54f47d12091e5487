"""The tables an experiment declares: which axis makes rows and columns, and which metric."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.yamlfile import KeyPath, YamlDocument
from registry.cell import Cell, varying_keys

TABLE_KEYS = (
    "kind",
    "title",
    "rows",
    "columns",
    "metric",
    "at",
    "derived",
    "labels",
    "row_label",
)
MODEL_CARD_KEYS = ("kind", "title", "rows", "labels", "row_label")
TABLE_KINDS = ("metric", "model_card")
#: The rows of a model card when none are named: one per distinct model.
MODEL_ROWS = "model"
EPOCH_CHOICES = ("best", "last")


@dataclass(frozen=True)
class DerivedColumn:
    """A column computed from two others: ``minuend - subtrahend`` (e.g. ``Improvement``)."""

    title: str
    minuend: str
    subtrahend: str


@dataclass(frozen=True)
class TableSpec:
    """One table of an experiment.

    :param rows: the dotted key whose values make the rows, e.g. ``model.depth``.
    :param columns: the dotted key whose values make the columns, or ``None`` for one column.
    :param metric: a metric name, e.g. ``val_acc``.
    :param at: ``best`` (the best-validation epoch) or ``last`` (the final epoch).
    :param derived: extra columns computed from two value columns.
    :param labels: header text for column values, e.g. ``{"mlp": "Acc MLP"}``.
    :param row_label: header of the row column (default: from ``rows``).
    :param kind: ``metric`` (a metric by rows and columns), or ``model_card`` (blocks,
        parameters and conv layers of each model, counted from the built models).
    """

    title: str
    rows: str
    columns: str | None
    metric: str
    at: str = "best"
    derived: tuple[DerivedColumn, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    row_label: str | None = None
    kind: str = "metric"

    def to_json(self) -> dict[str, Any]:
        """A plain dictionary for the store's manifest."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TableSpec:
        """Rebuild from :meth:`to_json` output."""
        values = dict(data)
        values["derived"] = tuple(DerivedColumn(**d) for d in values.get("derived", ()))
        return cls(**values)


def parse_tables(
    doc: YamlDocument,
    keypath: KeyPath,
    raw: Any,
    *,
    axes: Sequence[str],
    metrics: Sequence[str],
    cells: Sequence[Cell],
) -> tuple[TableSpec, ...]:
    """Validate an experiment's ``tables`` list against its axes, metrics and cells."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise doc.error(keypath, "expected a list of tables")
    return tuple(
        _parse_table(doc, (*keypath, index), item, axes=axes, metrics=metrics, cells=cells)
        for index, item in enumerate(raw)
    )


def _parse_table(
    doc: YamlDocument,
    keypath: KeyPath,
    raw: Any,
    *,
    axes: Sequence[str],
    metrics: Sequence[str],
    cells: Sequence[Cell],
) -> TableSpec:
    if not isinstance(raw, dict):
        raise doc.error(keypath, "expected a mapping with rows, metric and optional columns")
    kind = raw.get("kind", "metric")
    if kind not in TABLE_KINDS:
        raise doc.error((*keypath, "kind"), f"expected one of {', '.join(TABLE_KINDS)}")
    accepted = MODEL_CARD_KEYS if kind == "model_card" else TABLE_KEYS
    for key in raw:
        if key not in accepted:
            raise doc.error((*keypath, key), f"unknown key; accepted: {', '.join(accepted)}")
    axis_text = ", ".join(axes) or "none"

    def axis(key: str, required: bool) -> str | None:
        value = raw.get(key)
        if value is None and not required:
            return None
        # An axis, or any key every cell has (an axis that --set narrowed to one value).
        if value not in axes and not (isinstance(value, str) and _every_cell_has(cells, value)):
            raise doc.error(
                (*keypath, key),
                f"expected one of this experiment's axes ({axis_text}) or a parameter key "
                "such as model.depth",
            )
        return str(value)

    labels = raw.get("labels", {})
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise doc.error((*keypath, "labels"), "expected a mapping of column value to header text")
    for key in ("title", "row_label"):
        if key in raw and not isinstance(raw[key], str):
            raise doc.error((*keypath, key), "expected a string")
    if kind == "model_card":
        return TableSpec(
            title=raw.get("title", ""),
            rows=(axis("rows", required=False) or MODEL_ROWS),
            columns=None,
            metric="parameters",
            labels={str(k): v for k, v in labels.items()},
            row_label=raw.get("row_label"),
            kind="model_card",
        )
    rows = axis("rows", required=True)
    assert rows is not None
    columns = axis("columns", required=False)
    if columns == rows:
        raise doc.error((*keypath, "columns"), "columns must differ from rows")
    metric = raw.get("metric")
    if metric not in metrics:
        raise doc.error((*keypath, "metric"), f"expected one of {', '.join(metrics)}")
    at = raw.get("at", "best")
    if at not in EPOCH_CHOICES:
        raise doc.error((*keypath, "at"), f"expected one of {', '.join(EPOCH_CHOICES)}")
    column_values = [str(cell.value(columns)) for cell in cells] if columns else []
    derived = _parse_derived(doc, (*keypath, "derived"), raw.get("derived"), column_values)
    _check_unique(doc, keypath, rows, columns, cells)
    return TableSpec(
        title=raw.get("title", ""),
        rows=rows,
        columns=columns,
        metric=metric,
        at=at,
        derived=derived,
        labels={str(k): v for k, v in labels.items()},
        row_label=raw.get("row_label"),
    )


def _every_cell_has(cells: Sequence[Cell], key: str) -> bool:
    try:
        for cell in cells:
            cell.value(key)
    except KeyError:
        return False
    return True


def _parse_derived(
    doc: YamlDocument, keypath: KeyPath, raw: Any, column_values: Sequence[str]
) -> tuple[DerivedColumn, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise doc.error(keypath, "expected a list of {title: ..., diff: [COLUMN, COLUMN]}")
    derived = []
    for index, item in enumerate(raw):
        where = (*keypath, index)
        if not isinstance(item, dict) or set(item) != {"title", "diff"}:
            raise doc.error(where, "expected {title: TEXT, diff: [COLUMN, COLUMN]}")
        diff = item["diff"]
        if not isinstance(diff, list) or len(diff) != 2:
            raise doc.error((*where, "diff"), "expected two column values: [minuend, subtrahend]")
        for value in diff:
            if str(value) not in column_values:
                accepted = (
                    ", ".join(dict.fromkeys(column_values)) or "none (the table has no columns)"
                )
                raise doc.error((*where, "diff"), f"{value!r} is not a column; columns: {accepted}")
        derived.append(DerivedColumn(str(item["title"]), str(diff[0]), str(diff[1])))
    return tuple(derived)


def _check_unique(
    doc: YamlDocument, keypath: KeyPath, rows: str, columns: str | None, cells: Sequence[Cell]
) -> None:
    """Each (row, column) must hold cells that differ only by seed, or the table would hide some."""
    groups: dict[tuple[str, str], Cell] = {}
    for cell in cells:
        key = (str(cell.value(rows)), str(cell.value(columns)) if columns else "")
        other = groups.setdefault(key, cell)
        differing = _differing_keys(other, cell)
        if differing:
            raise doc.error(
                keypath,
                f"rows {rows!r}{f' and columns {columns!r}' if columns else ''} leave cells that "
                f"differ in {', '.join(differing)}; make that the rows or columns, or split the "
                "experiment",
            )


def _differing_keys(first: Cell, second: Cell) -> list[str]:
    return [key for key in varying_keys([first, second]) if key != "seed"]
