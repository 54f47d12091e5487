"""The manifest: what a results directory's report is drawn from, as typed frozen records.

A run writes it from the expanded matrix (``manifest.json``); reports read it back, so a
results directory redraws its tables and plots without the matrix file or the plugins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from dlbench.registry.cell import Cell
from dlbench.registry.probes import ProbePlot
from dlbench.registry.schema import ShapeError, check_fields, check_value
from dlbench.stats.records import DecideSpec
from dlbench.stats.tuning import SearchDimension, TuneSpec

#: The rows of a model card when none are named: one per distinct model.
MODEL_ROWS = "model"


#: The keys every stored skipped cell has.
_SKIPPED_KEYS = ("experiment", "description", "reason")
_PLOT_KEYS = ("title", "x_label", "y_label")


class ManifestError(ValueError):
    """A manifest that is missing a key or holds a value of the wrong type."""


def _get(data: Any, key: str, kind: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: expected a JSON object")
    if key not in data:
        if default is not ...:
            return default
        raise ManifestError(f"{where}: missing key {key!r}")
    value = data[key]
    if not isinstance(value, kind):
        raise ManifestError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}")
    return value


@dataclass(frozen=True)
class DerivedColumn:
    """A column computed from two others: ``minuend - subtrahend`` (e.g. ``Improvement``).

    :param decide: how the comparison is decided, with runs added until it is (see
        ``dlbench.stats``); ``None`` for a difference over the runs there are.
    :param p_better: add a column with P(minuend > subtrahend) over paired runs.
    """

    title: str
    minuend: str
    subtrahend: str
    decide: DecideSpec | None = None
    p_better: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DerivedColumn:
        """Rebuild from its (checked) JSON."""
        decide = data.get("decide")
        return cls(**{**data, "decide": DecideSpec(**decide) if decide else None})


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
    :param kind: ``metric`` (a metric by rows and columns); ``model_card`` (blocks,
        parameters and conv layers of each model, counted from the built models); or
        ``leaderboard`` (a row per configuration of the listed experiments, a column per metric).
    :param experiments: for a leaderboard or model card, the experiments whose cells it shows.
    :param metrics: for a leaderboard, its columns: ``val_acc@best``, ``parameters``, ...
    :param curves: for a leaderboard, per-epoch metrics to plot for its rows.
    :param interval: spread shown over seeds: ``std`` or ``ci95`` (95% confidence interval).
    :param better: which values of ``metric`` are better (``higher``, ``lower``), as its
        strategy declares it; ``None`` where unknown.
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
    experiments: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    curves: tuple[str, ...] = ()
    interval: str = "std"
    better: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A plain dictionary for the store's manifest."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str = "table") -> TableSpec:
        """Rebuild from ``to_json`` output, checked against the fields' types.

        :raises ManifestError: naming what is wrong.
        """
        try:
            check_fields(cls, data, where, required=("title", "rows", "columns", "metric"))
        except ShapeError as exc:
            raise ManifestError(str(exc)) from None
        values = dict(data)
        values["derived"] = tuple(DerivedColumn.from_json(d) for d in values.get("derived", ()))
        for key in ("experiments", "metrics", "curves"):
            values[key] = tuple(values.get(key, ()))
        return cls(**values)


@dataclass(frozen=True)
class SkippedCell:
    """A combination reached by crossing axes that cannot run, and why."""

    experiment: str
    description: str
    reason: str


@dataclass(frozen=True)
class ExperimentEntry:
    """One experiment as reports see it.

    :param selected: whether it was run (``--only`` may leave experiments out; leaderboards may
        still show them).
    :param probes: the probes its cells ran with.
    :param tune: how its arms were tuned; ``cells`` are then their final runs.
    :param trials: its tuning trials (never shown in tables: final numbers come from ``cells``).
    """

    name: str
    title: str
    description: str
    selected: bool
    cells: tuple[Cell, ...]
    skipped: tuple[SkippedCell, ...] = ()
    tables: tuple[TableSpec, ...] = ()
    probes: tuple[str, ...] = ()
    tune: TuneSpec | None = None
    trials: tuple[Cell, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A plain dictionary for the manifest file."""
        return {
            "tune": asdict(self.tune) if self.tune is not None else None,
            "trials": [{"id": cell.id, **cell.to_json()} for cell in self.trials],
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "selected": self.selected,
            "cells": [{"id": cell.id, **cell.to_json()} for cell in self.cells],
            "skipped": [asdict(s) for s in self.skipped],
            "tables": [t.to_json() for t in self.tables],
            "probes": list(self.probes),
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> ExperimentEntry:
        """Rebuild from ``to_json`` output; :raises ManifestError: naming what is wrong."""
        name = _get(data, "name", str, where)
        where = f"{where}[{name}]"
        cells = []
        for index, cell in enumerate(_get(data, "cells", list, where)):
            try:
                cells.append(Cell.from_json(cell))
            except ValueError as exc:
                raise ManifestError(f"{where}.cells[{index}]: not a cell ({exc})") from None
        skipped = []
        for index, entry in enumerate(_get(data, "skipped", list, where, [])):
            try:
                check_fields(SkippedCell, entry, f"{where}.skipped[{index}]", _SKIPPED_KEYS)
            except ShapeError as exc:
                raise ManifestError(str(exc)) from None
            skipped.append(SkippedCell(**entry))
        tables = [
            TableSpec.from_json(table, f"{where}.tables[{index}]")
            for index, table in enumerate(_get(data, "tables", list, where, []))
        ]
        probes = _get(data, "probes", list, where, [])
        if not all(isinstance(p, str) for p in probes):
            raise ManifestError(f"{where}.probes: expected a list of probe names")
        tune = _get(data, "tune", (dict, type(None)), where, None)
        if tune is not None:
            try:
                check_fields(TuneSpec, tune, f"{where}.tune", ("space",))
            except ShapeError as exc:
                raise ManifestError(str(exc)) from None
            tune = TuneSpec(
                **{
                    **tune,
                    "space": tuple(
                        SearchDimension(**{**d, "values": tuple(d["values"])})
                        for d in tune["space"]
                    ),
                }
            )
        trials = []
        for index, cell in enumerate(_get(data, "trials", list, where, [])):
            try:
                trials.append(Cell.from_json(cell))
            except ValueError as exc:
                raise ManifestError(f"{where}.trials[{index}]: not a cell ({exc})") from None
        return cls(
            name=name,
            tune=tune,
            trials=tuple(trials),
            title=_get(data, "title", str, where, name),
            description=_get(data, "description", str, where, ""),
            selected=_get(data, "selected", bool, where, True),
            cells=tuple(cells),
            skipped=tuple(skipped),
            tables=tuple(tables),
            probes=tuple(probes),
        )


@dataclass(frozen=True)
class Manifest:
    """A matrix as run: its experiments, their cells and tables, and how probes are drawn.

    :param source: the matrix file it came from.
    :param probe_plots: probe name -> how its results are drawn.
    :param code: cell id -> plugin -> fingerprint of the code the matrix was last run with; a
        stored record made with other code is stale.
    """

    name: str
    source: str
    description: str
    experiments: tuple[ExperimentEntry, ...]
    probe_plots: Mapping[str, ProbePlot] = field(default_factory=dict)
    code: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def shown(self) -> tuple[ExperimentEntry, ...]:
        """The experiments that were run (selected)."""
        return tuple(e for e in self.experiments if e.selected)

    def cell_ids(self) -> list[str]:
        """Every cell id of every experiment, once, in order."""
        return list(dict.fromkeys(c.id for e in self.experiments for c in (*e.cells, *e.trials)))

    def to_json(self) -> dict[str, Any]:
        """A plain dictionary for ``manifest.json``."""
        return {
            "name": self.name,
            "source": self.source,
            "description": self.description,
            "experiments": [e.to_json() for e in self.experiments],
            "probe_plots": {name: plot.to_json() for name, plot in self.probe_plots.items()},
            "code": {cell: dict(code) for cell, code in self.code.items()},
        }

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        """Rebuild from ``to_json`` output (or an older manifest without the newer keys).

        :raises ManifestError: naming the first key that is missing or of the wrong type.
        """
        experiments = tuple(
            ExperimentEntry.from_json(entry, f"experiments[{index}]")
            for index, entry in enumerate(_get(data, "experiments", list, "manifest"))
        )
        plots = {}
        for name, plot in _get(data, "probe_plots", dict, "manifest", {}).items():
            try:
                check_fields(ProbePlot, plot, f"probe_plots.{str(name)[:40]}", _PLOT_KEYS)
            except ShapeError as exc:
                raise ManifestError(str(exc)) from None
            plots[str(name)] = ProbePlot.from_json(plot)
        code = _get(data, "code", dict, "manifest", {})
        try:
            check_value(code, dict[str, dict[str, str]], "manifest.code")
        except ShapeError as exc:
            raise ManifestError(str(exc)) from None
        return cls(
            name=_get(data, "name", str, "manifest"),
            source=_get(data, "source", str, "manifest", ""),
            description=_get(data, "description", str, "manifest", ""),
            experiments=experiments,
            probe_plots=plots,
            code=code,
        )
