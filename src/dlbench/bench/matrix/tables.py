"""Reading the tables an experiment declares (which axis makes rows and columns, which metric)
into ``TableSpec`` records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dlbench.bench.matrix.decisions import parse_decide
from dlbench.bench.matrix.yamlfile import KeyPath, MatrixError, check_keys
from dlbench.registry.cell import Cell, varying_keys
from dlbench.reports.manifest import MODEL_ROWS, DerivedColumn, TableSpec

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
    "interval",
)
MODEL_CARD_KEYS = ("kind", "title", "rows", "experiments", "labels", "row_label")
LEADERBOARD_KEYS = ("kind", "title", "experiments", "metrics", "curves", "labels", "row_label")
TABLE_KINDS = ("metric", "model_card", "leaderboard")
DERIVED_KEYS = ("title", "diff", "decide", "p_better")
DEFAULT_LEADERBOARD_METRICS = (
    "val_acc@best",
    "val_acc@last",
    "test_acc@best",
    "parameters",
    "train_seconds",
)
EPOCH_CHOICES = ("best", "last")


def parse_tables(
    keypath: KeyPath,
    raw: Any,
    *,
    axes: Sequence[str],
    metrics: Mapping[str, str | None],
    cells: Sequence[Cell],
) -> tuple[TableSpec, ...]:
    """Validate an experiment's ``tables`` list against its axes, metrics and cells."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise MatrixError(keypath, "expected a list of tables")
    return tuple(
        _parse_table((*keypath, index), item, axes=axes, metrics=metrics, cells=cells)
        for index, item in enumerate(raw)
    )


@dataclass(frozen=True)
class _TableSource:
    """One table's mapping in the matrix and what it is checked against."""

    keypath: KeyPath
    raw: Mapping[str, Any]
    axes: Sequence[str]
    metrics: Mapping[str, str | None]
    cells: Sequence[Cell]

    def error(self, key: str, message: str) -> MatrixError:
        return MatrixError((*self.keypath, key), message)

    def axis(self, key: str, required: bool) -> str | None:
        """An axis of the experiment, or any key every cell has (an axis ``--set`` narrowed)."""
        value = self.raw.get(key)
        if value is None and not required:
            return None
        if value not in self.axes and not (
            isinstance(value, str) and _every_cell_has(self.cells, value)
        ):
            raise self.error(
                key,
                f"expected one of this experiment's axes ({', '.join(self.axes) or 'none'}) or a "
                "parameter key such as model.depth",
            )
        return str(value)

    def labels(self) -> dict[str, str]:
        labels = self.raw.get("labels", {})
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise self.error("labels", "expected a mapping of column value to header text")
        return {str(k): v for k, v in labels.items()}

    def names(self, key: str, default: Sequence[str]) -> tuple[str, ...]:
        value = self.raw.get(key, list(default))
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.error(key, "expected a non-empty list of names")
        return tuple(value)


def _parse_table(
    keypath: KeyPath,
    raw: Any,
    *,
    axes: Sequence[str],
    metrics: Mapping[str, str | None],
    cells: Sequence[Cell],
) -> TableSpec:
    if not isinstance(raw, dict):
        raise MatrixError(keypath, "expected a mapping with rows, metric and optional columns")
    kind = raw.get("kind", "metric")
    if kind not in TABLE_KINDS:
        raise MatrixError((*keypath, "kind"), f"expected one of {', '.join(TABLE_KINDS)}")
    accepted = {"model_card": MODEL_CARD_KEYS, "leaderboard": LEADERBOARD_KEYS}.get(
        kind, TABLE_KEYS
    )
    check_keys(keypath, raw, accepted)
    for key in ("title", "row_label"):
        if key in raw and not isinstance(raw[key], str):
            raise MatrixError((*keypath, key), "expected a string")
    source = _TableSource(keypath, raw, axes, metrics, cells)
    parse = {"leaderboard": _parse_leaderboard, "model_card": _parse_model_card}
    return parse.get(kind, _parse_metric_table)(source)


def _parse_model_card(source: _TableSource) -> TableSpec:
    raw = source.raw
    experiments = raw.get("experiments", [])
    if not isinstance(experiments, list) or not all(isinstance(e, str) for e in experiments):
        raise source.error("experiments", "expected a list of experiment names")
    return TableSpec(
        title=raw.get("title", ""),
        rows=(source.axis("rows", required=False) or MODEL_ROWS),
        columns=None,
        metric="parameters",
        labels=source.labels(),
        row_label=raw.get("row_label"),
        kind="model_card",
        experiments=tuple(experiments),
    )


def _parse_metric_table(source: _TableSource) -> TableSpec:
    raw = source.raw
    rows = source.axis("rows", required=True)
    assert rows is not None
    columns = source.axis("columns", required=False)
    if columns == rows:
        raise source.error("columns", "columns must differ from rows")
    metric = raw.get("metric")
    if not isinstance(metric, str) or metric not in source.metrics:
        raise source.error("metric", f"expected one of {', '.join(source.metrics)}")
    interval = raw.get("interval", "std")
    if interval not in ("std", "ci95"):
        raise source.error("interval", "expected one of std, ci95")
    at = raw.get("at", "best")
    if at not in EPOCH_CHOICES:
        raise source.error("at", f"expected one of {', '.join(EPOCH_CHOICES)}")
    column_values = [str(cell.value(columns)) for cell in source.cells] if columns else []
    derived = _parse_derived(
        (*source.keypath, "derived"), raw.get("derived"), column_values, metric,
        source.metrics[metric],
    )  # fmt: skip
    _check_unique(source.keypath, rows, columns, source.cells)
    return TableSpec(
        title=raw.get("title", ""),
        rows=rows,
        columns=columns,
        metric=metric,
        at=at,
        derived=derived,
        labels=source.labels(),
        row_label=raw.get("row_label"),
        interval=interval,
        better=source.metrics[metric],
    )


def _parse_leaderboard(source: _TableSource) -> TableSpec:
    """A leaderboard; whether its experiments exist is checked once the matrix is expanded."""
    raw, metrics = source.raw, source.metrics
    experiments = source.names("experiments", [str(source.keypath[1])])
    columns = source.names("metrics", DEFAULT_LEADERBOARD_METRICS)
    for column in columns:
        metric, _, at = column.partition("@")
        if metric not in metrics or at not in ("", *EPOCH_CHOICES):
            raise source.error(
                "metrics",
                f"{column!r}: expected METRIC or METRIC@best|last with METRIC one of "
                f"{', '.join(metrics)}",
            )
    curves = source.names("curves", []) if "curves" in raw else ()
    for curve in curves:
        if curve not in metrics:
            raise source.error("curves", f"{curve!r}: expected one of {', '.join(metrics)}")
    return TableSpec(
        title=raw.get("title", ""),
        rows="experiment",
        columns=None,
        metric=columns[0].partition("@")[0],
        labels=source.labels(),
        row_label=raw.get("row_label"),
        kind="leaderboard",
        experiments=experiments,
        metrics=columns,
        curves=curves,
    )


def _every_cell_has(cells: Sequence[Cell], key: str) -> bool:
    try:
        for cell in cells:
            cell.value(key)
    except KeyError:
        return False
    return True


def _parse_derived(
    keypath: KeyPath, raw: Any, column_values: Sequence[str], metric: str, direction: str | None
) -> tuple[DerivedColumn, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise MatrixError(keypath, "expected a list of {title: ..., diff: [COLUMN, COLUMN]}")
    derived = []
    for index, item in enumerate(raw):
        where = (*keypath, index)
        if not isinstance(item, dict) or not {"title", "diff"} <= set(item):
            raise MatrixError(where, "expected {title: TEXT, diff: [COLUMN, COLUMN]}")
        check_keys(where, item, DERIVED_KEYS)
        diff = item["diff"]
        if not isinstance(diff, list) or len(diff) != 2:
            raise MatrixError((*where, "diff"), "expected two column values: [minuend, subtrahend]")
        for value in diff:
            if str(value) not in column_values:
                accepted = (
                    ", ".join(dict.fromkeys(column_values)) or "none (the table has no columns)"
                )
                raise MatrixError(
                    (*where, "diff"), f"{value!r} is not a column; columns: {accepted}"
                )
        p_better = item.get("p_better", False)
        if not isinstance(p_better, bool):
            raise MatrixError((*where, "p_better"), "expected true or false")
        decide = item.get("decide")
        derived.append(
            DerivedColumn(
                str(item["title"]),
                str(diff[0]),
                str(diff[1]),
                decide=parse_decide((*where, "decide"), decide, metric, direction)
                if decide
                else None,
                p_better=p_better,
            )
        )
    return tuple(derived)


def _check_unique(keypath: KeyPath, rows: str, columns: str | None, cells: Sequence[Cell]) -> None:
    """Each (row, column) must hold cells that differ only by seed, or the table would hide some."""
    groups: dict[tuple[str, str], Cell] = {}
    for cell in cells:
        key = (str(cell.value(rows)), str(cell.value(columns)) if columns else "")
        other = groups.setdefault(key, cell)
        differing = _differing_keys(other, cell)
        if differing:
            raise MatrixError(
                keypath,
                f"rows {rows!r}{f' and columns {columns!r}' if columns else ''} leave cells that "
                f"differ in {', '.join(differing)}; make that the rows or columns, or split the "
                "experiment",
            )


def _differing_keys(first: Cell, second: Cell) -> list[str]:
    return [key for key in varying_keys([first, second]) if key != "seed"]
