"""Load one experiment of a matrix: merge, resolve references, expand, validate its tables."""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dlbench.bench.matrix.axes import (
    apply_exclude,
    apply_zip,
    check_size,
    combinations,
    find_axes,
)
from dlbench.bench.matrix.decisions import planned_runs
from dlbench.bench.matrix.expand import ExperimentSource, build_cell, refusal, size_refusal
from dlbench.bench.matrix.merge import MatrixScope, merge_experiment
from dlbench.bench.matrix.references import resolve_references
from dlbench.bench.matrix.tables import parse_tables
from dlbench.bench.matrix.tuning import parse_tune
from dlbench.bench.matrix.yamlfile import KeyPath, MatrixError, check_keys
from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import COMPONENT_KINDS, Cell, Component
from dlbench.registry.errors import UnknownNameError
from dlbench.registry.params import ParamError, resolve_params
from dlbench.registry.specs import StrategySpec
from dlbench.reports.manifest import SkippedCell, TableSpec
from dlbench.stats.tuning import TuneSpec

EXPERIMENT_KEYS = (
    "title",
    "description",
    *COMPONENT_KINDS,
    "seeds",
    "repeats",
    "vary",
    "probes",
    "tune",
    "zip",
    "exclude",
    "tables",
)
MAX_NAME_LENGTH = 100
#: Experiment names: no dots, so that ``--set experiments.NAME.KEY=...`` can address each one.
EXPERIMENT_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_-]{{0,{MAX_NAME_LENGTH - 1}}}")


@dataclass(frozen=True)
class Experiment:
    """One named experiment of a matrix, expanded.

    :param probes: the probes its cells run with (not part of their identity).
    :param tune: how its arms (its cells) are tuned before their final runs, if they are.
    """

    name: str
    title: str
    description: str
    cells: tuple[Cell, ...]
    skipped: tuple[SkippedCell, ...]
    tables: tuple[TableSpec, ...]
    probes: tuple[Component, ...] = ()
    tune: TuneSpec | None = None


def load_experiment(
    name: str, body: Any, scope: MatrixScope, produced: Mapping[str, Sequence[Cell]]
) -> tuple[Experiment, frozenset[int]]:
    """Expand experiment ``name``; ``produced`` holds the cells of experiments expanded before.

    :returns: the experiment and the indices of the ``--set`` overrides that applied to it.
    """
    keypath: KeyPath = ("experiments", name)
    if not EXPERIMENT_NAME.fullmatch(name):
        raise MatrixError(
            keypath,
            f"experiment names are 1 to {MAX_NAME_LENGTH} letters, digits, '_' or '-', "
            "starting with a letter or digit",
        )
    if not isinstance(body, dict):
        raise MatrixError(keypath, "expected a mapping with model, dataset, strategy and tables")
    check_keys(keypath, body, EXPERIMENT_KEYS)
    catalog = scope.catalog
    source = merge_experiment(name, body, scope)
    runs = planned_runs(body.get("tables"))
    if "tune" in body or runs is not None:
        # A tuned experiment's cells are its arms, at seed 0, whose trials and final runs its
        # planner makes; a decided one's seeds are the runs its comparisons may ask for.
        _plan_seeds(source, keypath, None if "tune" in body else runs)
    resolve_references(source, produced, catalog)
    axes = apply_zip((*keypath, "zip"), body.get("zip"), find_axes(source, catalog))
    check_size(keypath, axes)
    combos = apply_exclude((*keypath, "exclude"), body.get("exclude"), axes, combinations(axes))
    axis_keys = [key for axis in axes for key in axis.keys]
    cells, skipped = _cells(name, keypath, source, combos, axis_keys, catalog)
    strategies = [catalog.strategies.get(name) for name in {c.strategy.name for c in cells}]
    metrics = sorted({m for spec in strategies for m in spec.metrics})
    # Metric name -> which of its values are better (None where no strategy says).
    directions = {m: _direction(m, strategies) for m in metrics}
    tables = parse_tables(
        (*keypath, "tables"),
        body.get("tables"),
        axes=axis_keys,
        metrics=directions,
        cells=cells,
    )
    tune = None
    if "tune" in body:
        tune = parse_tune((*keypath, "tune"), body["tune"], cells, axis_keys, directions, catalog)
        _warn_selection_bias(name, tables, tune, cells)
    title, description = _texts(name, keypath, source, body)
    experiment = Experiment(
        name,
        title,
        description,
        tuple(cells),
        tuple(skipped),
        tables,
        _resolve_probes(source, catalog),
        tune,
    )
    return experiment, frozenset(source.applied)


def _plan_seeds(source: ExperimentSource, keypath: KeyPath, runs: int | None) -> None:
    """A planned experiment takes no seeds of its own: a decided comparison plans seeds
    ``0 .. runs - 1`` as needed; a tuned experiment's arms are at seed 0 (``runs`` is
    ``None``)."""
    origin = source.origins[("seeds", "")]
    if isinstance(origin, str) or (origin[:2] == keypath and len(origin) > 2):
        raise MatrixError(
            origin,
            "this experiment plans its runs (a comparison it decides, or its tuning); remove "
            "seeds or repeats here",
        )
    source.seeds = 0 if runs is None else list(range(runs))


def _cells(
    name: str,
    keypath: KeyPath,
    source: ExperimentSource,
    combos: list[dict[str, Any]],
    axis_keys: list[str],
    catalog: Catalog,
) -> tuple[list[Cell], list[SkippedCell]]:
    """The experiment's cells, and the combinations that cannot run (reached by crossing
    plugin names; any other impossible cell is an error)."""
    name_axes = {key for key in axis_keys if key.endswith(".name")}
    cells: dict[str, Cell] = {}
    skipped: list[SkippedCell] = []
    for combo in combos:
        cell = build_cell(source, combo, catalog)
        too_big = size_refusal(cell, catalog)
        if too_big is not None:
            raise MatrixError(keypath, f"impossible cell {cell.describe()}: {too_big}")
        reason = refusal(cell, catalog)
        if reason is None:
            cells.setdefault(cell.id, cell)
        elif name_axes:
            # Reached only by crossing plugin names: mark it and run the rest.
            skipped.append(SkippedCell(name, cell.describe(axis_keys), reason))
        else:
            raise MatrixError(keypath, f"impossible cell: {reason}")
    if not cells:
        raise MatrixError(keypath, f"no cell can run: {skipped[0].reason}")
    return list(cells.values()), skipped


def _texts(
    name: str, keypath: KeyPath, source: ExperimentSource, body: Mapping[str, Any]
) -> tuple[str, str]:
    """The experiment's title and description (``--set`` over the file's), checked."""
    texts = {
        key: source.texts.get(key, body.get(key, default))
        for key, default in (("title", name), ("description", ""))
    }
    for key, value in texts.items():
        if not isinstance(value, str):
            raise MatrixError(source.origins.get((key, ""), (*keypath, key)), "expected a string")
    return str(texts["title"]), str(texts["description"])


def _resolve_probes(source: ExperimentSource, catalog: Catalog) -> tuple[Component, ...]:
    probes = []
    for name, params in source.probes.items():
        origin = source.origins[("probes", name)]
        try:
            entry = catalog.probes.entry(name)
        except UnknownNameError as exc:
            raise MatrixError(origin, str(exc)) from None
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise MatrixError(origin, "expected a mapping of the probe's parameters")
        try:
            resolved = resolve_params(entry.spec.params, params, f"probe {name!r}")
        except ParamError as exc:
            raise MatrixError(origin, str(exc)) from None
        probes.append(
            Component(
                name,
                {k: list(v) if isinstance(v, tuple) else v for k, v in resolved.items()},
                entry.plugin.name,
                entry.plugin.version,
            )
        )
    return tuple(probes)


def _direction(metric: str, strategies: Sequence[StrategySpec]) -> str | None:
    """Which values of ``metric`` are better, as its strategies declare it; ``None`` where they
    declare none, or disagree."""
    found = {spec.direction(metric) for spec in strategies if metric in spec.metrics}
    return found.pop() if len(found) == 1 else None


def _warn_selection_bias(
    name: str, tables: Sequence[TableSpec], tune: TuneSpec, cells: Sequence[Cell]
) -> None:
    """A table of the metric the trials were chosen by, on a validation split the final runs
    share with the trials, is biased upwards by the choice: say so (the test metric is not)."""
    if any("split" in cell.vary for cell in cells):
        return
    for table in tables:
        if table.metric == tune.metric:
            warnings.warn(
                f"experiment {name!r}: table {table.title or table.metric!r} shows {tune.metric}, "
                "the metric the trials were chosen by, on the validation split every run "
                "shares: it is biased upwards by the choice; show a test metric, or add split "
                "to vary so that final runs draw their own split",
                stacklevel=2,
            )
