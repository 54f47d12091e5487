"""Load a matrix file: validate all of it, expand every experiment, and plan what must run."""

from __future__ import annotations

import fnmatch
import graphlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.experiment import NAME_PATTERN, Experiment, check_keys, load_experiment
from bench.overrides import SECTIONS, Override
from bench.references import experiment_order, references_in
from bench.yamlfile import YamlDocument, load_yaml
from registry.catalog import Catalog
from registry.cell import Cell, Component
from registry.errors import DlbenchError, UnknownNameError
from registry.params import CELL_REFERENCE

TOP_KEYS = ("name", "description", "executor", "defaults", "experiments")
DEFAULT_KEYS = (*SECTIONS, "seeds", "repeats", "probes")
_PLURAL = {"model": "models", "dataset": "datasets", "strategy": "strategies"}


@dataclass(frozen=True)
class Matrix:
    """A validated, expanded matrix file and the plan to run it.

    :param experiments: the selected experiments (all, unless ``--only`` narrowed them).
    :param cells: every cell to run, producers before consumers: the selected experiments' cells
        and the cells of other experiments whose artifacts they need.
    :param artifacts: cell id -> kinds of artifact that cell must store for its consumers.
    :param probes: cell id -> probes it runs with.
    :param unselected: experiments left out by ``--only``; leaderboards may still show them.
    """

    name: str
    source: Path
    description: str
    executor: str
    experiments: tuple[Experiment, ...]
    cells: dict[str, Cell] = field(default_factory=dict)
    artifacts: dict[str, frozenset[str]] = field(default_factory=dict)
    probes: dict[str, tuple[Component, ...]] = field(default_factory=dict)
    unselected: tuple[Experiment, ...] = ()

    def unique_cells(self) -> list[Cell]:
        """Every cell to run once, producers before consumers."""
        return list(self.cells.values())

    def manifest(self) -> dict[str, Any]:
        """What reports need to redraw the tables without the matrix file or the plugins."""
        selected = {e.name for e in self.experiments}
        return {
            "name": self.name,
            "source": str(self.source),
            "description": self.description,
            "experiments": [
                {
                    "name": e.name,
                    "title": e.title,
                    "description": e.description,
                    "selected": e.name in selected,
                    "cells": [{"id": c.id, **c.to_json()} for c in e.cells],
                    "skipped": [asdict(s) for s in e.skipped],
                    "tables": [t.to_json() for t in e.tables],
                    "probes": [p.name for p in e.probes],
                }
                for e in (*self.experiments, *self.unselected)
            ],
        }


def load_matrix(
    path: Path,
    catalog: Catalog,
    overrides: Sequence[Override] = (),
    only: Sequence[str] = (),
) -> Matrix:
    """Read, validate and expand the matrix at ``path``.

    :param overrides: ``--set`` values, applied after defaults.
    :param only: globs of experiment names to keep (all when empty).
    :raises DlbenchError: a one-line error naming file, line and key for anything invalid.
    """
    doc = load_yaml(path)
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error((), "expected a mapping with keys: " + ", ".join(TOP_KEYS))
    check_keys(doc, (), data, TOP_KEYS)
    name = data.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise doc.error(("name",), "expected a name of letters, digits, '_', '.', '-'")
    executor = data.get("executor", "local")
    if not isinstance(executor, str) or executor not in catalog.executors:
        raise doc.error(
            ("executor",),
            str(UnknownNameError("executor", str(executor), catalog.executors.names())),
        )
    description = data.get("description", "")
    if not isinstance(description, str):
        raise doc.error(("description",), "expected a string")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise doc.error(("defaults",), "expected a mapping")
    check_keys(doc, ("defaults",), defaults, DEFAULT_KEYS)
    bodies = data.get("experiments")
    if not isinstance(bodies, dict) or not bodies:
        raise doc.error(("experiments",), "expected a mapping of experiment name to experiment")
    for key in bodies:
        if not isinstance(key, str):
            raise doc.error(("experiments", str(key)), "experiment names must be strings")
    names = list(bodies)
    for override in overrides:
        if override.experiment is not None and override.experiment not in names:
            raise DlbenchError(
                f"--set {override.text}: no experiment {override.experiment!r}; "
                f"experiments: {', '.join(names)}"
            )
    selected = [n for n in names if not only or any(fnmatch.fnmatchcase(n, g) for g in only)]
    if not selected:
        raise DlbenchError(
            f"--only {' '.join(only)} matches no experiment; experiments: {', '.join(names)}"
        )

    dependencies = {
        n: references_in([(defaults, ("defaults",)), *_layer(bodies[n], ("experiments", n))])
        for n in names
    }
    expanded: dict[str, Experiment] = {}
    applied: set[int] = set()
    for experiment_name in experiment_order(doc, dependencies):
        # Every experiment is validated, selected or not: a broken file fails before anything runs.
        expanded[experiment_name] = load_experiment(
            doc,
            experiment_name,
            defaults,
            bodies[experiment_name],
            overrides,
            catalog,
            {n: e.cells for n, e in expanded.items()},
            applied,
        )
    for index, override in enumerate(overrides):
        if index not in applied:
            raise DlbenchError(
                f"--set {override.text}: no experiment's {override.section} takes {override.key!r}"
            )
    _check_leaderboards(doc, expanded)
    experiments = tuple(expanded[n] for n in names if n in selected)
    cells = _plan(experiments, expanded)
    return Matrix(
        name,
        path,
        description,
        executor,
        experiments,
        cells,
        _required_artifacts(cells, catalog),
        _probes_by_cell(experiments),
        tuple(expanded[n] for n in names if n not in selected),
    )


def _check_leaderboards(doc: YamlDocument, expanded: dict[str, Experiment]) -> None:
    for experiment in expanded.values():
        for index, table in enumerate(experiment.tables):
            for name in table.experiments:
                if name not in expanded:
                    raise doc.error(
                        ("experiments", experiment.name, "tables", index, "experiments"),
                        f"no experiment {name!r}; experiments: {', '.join(expanded)}",
                    )


def _layer(body: Any, keypath: tuple[str, ...]) -> list[tuple[dict[str, Any], tuple[str, ...]]]:
    return [(body, keypath)] if isinstance(body, dict) else []


def _plan(experiments: Sequence[Experiment], expanded: dict[str, Experiment]) -> dict[str, Cell]:
    """The selected cells plus every producer they need, in dependency order."""
    known = {cell.id: cell for e in expanded.values() for cell in e.cells}
    wanted: dict[str, Cell] = {}
    pending = [cell for e in experiments for cell in e.cells]
    while pending:
        cell = pending.pop(0)
        if cell.id in wanted:
            continue
        wanted[cell.id] = cell
        pending.extend(known[producer] for producer in cell.producers())
    order = [c.id for e in experiments for c in e.cells] + list(wanted)
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for cell_id in dict.fromkeys(order):
        sorter.add(cell_id, *wanted[cell_id].producers())
    # Cells are acyclic by construction: a cell can only refer to cells expanded before it.
    return {cell_id: wanted[cell_id] for cell_id in sorter.static_order()}


def _required_artifacts(cells: dict[str, Cell], catalog: Catalog) -> dict[str, frozenset[str]]:
    required: dict[str, set[str]] = {}
    for cell in cells.values():
        for section in SECTIONS:
            component: Component = getattr(cell, section)
            declared = catalog.of_kind(_PLURAL[section]).get(component.name).params
            for key, value in component.params.items():
                param = declared.get(key)
                if param is not None and param.artifact and isinstance(value, str):
                    producer = value.removeprefix(CELL_REFERENCE)
                    required.setdefault(producer, set()).add(param.artifact)
    return {cell_id: frozenset(kinds) for cell_id, kinds in required.items()}


def _probes_by_cell(experiments: Sequence[Experiment]) -> dict[str, tuple[Component, ...]]:
    """Each cell's probes: the union over the experiments that reach it."""
    probes: dict[str, dict[str, Component]] = {}
    for experiment in experiments:
        for cell in experiment.cells:
            chosen = probes.setdefault(cell.id, {})
            for probe in experiment.probes:
                earlier = chosen.setdefault(probe.name, probe)
                if earlier.params != probe.params:
                    raise DlbenchError(
                        f"experiment {experiment.name!r}: cell {cell.id} is also in another "
                        f"experiment with different settings for probe {probe.name!r}"
                    )
    return {cell_id: tuple(chosen.values()) for cell_id, chosen in probes.items()}
