"""Load one experiment of a matrix: merge, resolve references, expand, validate its tables."""

from __future__ import annotations

import re
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
from dlbench.bench.matrix.expand import (
    ExperimentSource,
    build_cell,
    refusal,
    size_refusal,
)
from dlbench.bench.matrix.merge import MatrixScope, merge_experiment
from dlbench.bench.matrix.references import resolve_references
from dlbench.bench.matrix.tables import parse_tables
from dlbench.bench.matrix.yamlfile import KeyPath, MatrixError, check_keys
from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import COMPONENT_KINDS, Cell, Component
from dlbench.registry.errors import UnknownNameError
from dlbench.registry.params import ParamError, resolve_params
from dlbench.reports.manifest import SkippedCell, TableSpec

EXPERIMENT_KEYS = (
    "title",
    "description",
    *COMPONENT_KINDS,
    "seeds",
    "repeats",
    "vary",
    "probes",
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
    """

    name: str
    title: str
    description: str
    cells: tuple[Cell, ...]
    skipped: tuple[SkippedCell, ...]
    tables: tuple[TableSpec, ...]
    probes: tuple[Component, ...] = ()


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
    if runs is not None:
        _plan_seeds(source, keypath, runs)
    resolve_references(source, produced, catalog)
    axes = apply_zip((*keypath, "zip"), body.get("zip"), find_axes(source, catalog))
    check_size(keypath, axes)
    combos = apply_exclude((*keypath, "exclude"), body.get("exclude"), axes, combinations(axes))
    axis_keys = [key for axis in axes for key in axis.keys]
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
    metrics = sorted(
        {m for c in cells.values() for m in catalog.strategies.get(c.strategy.name).metrics}
    )
    tables = parse_tables(
        (*keypath, "tables"),
        body.get("tables"),
        axes=[key for axis in axes for key in axis.keys],
        metrics=metrics,
        cells=list(cells.values()),
    )
    texts = {
        key: source.texts.get(key, body.get(key, default))
        for key, default in (("title", name), ("description", ""))
    }
    for key, value in texts.items():
        if not isinstance(value, str):
            raise MatrixError(source.origins.get((key, ""), (*keypath, key)), "expected a string")
    title, description = str(texts["title"]), str(texts["description"])
    experiment = Experiment(
        name,
        title,
        description,
        tuple(cells.values()),
        tuple(skipped),
        tables,
        _resolve_probes(source, catalog),
    )
    return experiment, frozenset(source.applied)


def _plan_seeds(source: ExperimentSource, keypath: KeyPath, runs: int) -> None:
    """A decided comparison plans its experiment's runs: seeds ``0 .. runs - 1`` as needed."""
    origin = source.origins[("seeds", "")]
    if isinstance(origin, str) or (origin[:2] == keypath and len(origin) > 2):
        raise MatrixError(
            origin,
            "this experiment decides a comparison, which plans its runs (min_runs to max_runs); "
            "remove seeds or repeats here",
        )
    source.seeds = list(range(runs))


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
