"""Load a matrix file: validate all of it, merge defaults and overrides, expand into cells."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.expand import (
    ExperimentSource,
    Origin,
    SkippedCell,
    apply_exclude,
    apply_zip,
    build_cell,
    combinations,
    fail,
    find_axes,
    refusal,
)
from bench.overrides import SECTIONS, Override
from bench.table_spec import TableSpec, parse_tables
from bench.yamlfile import KeyPath, YamlDocument, load_yaml
from registry.catalog import Catalog
from registry.cell import Cell
from registry.errors import DlbenchError, UnknownNameError

TOP_KEYS = ("name", "description", "executor", "defaults", "experiments")
DEFAULT_KEYS = (*SECTIONS, "seeds")
EXPERIMENT_KEYS = ("title", "description", *SECTIONS, "seeds", "zip", "exclude", "tables")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Experiment:
    """One named experiment of a matrix, expanded."""

    name: str
    title: str
    description: str
    cells: tuple[Cell, ...]
    skipped: tuple[SkippedCell, ...]
    tables: tuple[TableSpec, ...]


@dataclass(frozen=True)
class Matrix:
    """A validated, expanded matrix file."""

    name: str
    source: Path
    description: str
    executor: str
    experiments: tuple[Experiment, ...]

    def unique_cells(self) -> list[Cell]:
        """Every cell once, in the order experiments first reach it."""
        return list({cell.id: cell for e in self.experiments for cell in e.cells}.values())

    def manifest(self) -> dict[str, Any]:
        """What reports need to redraw the tables without the matrix file or the plugins."""
        return {
            "name": self.name,
            "source": str(self.source),
            "description": self.description,
            "experiments": [
                {
                    "name": e.name,
                    "title": e.title,
                    "description": e.description,
                    "cells": [{"id": c.id, **c.to_json()} for c in e.cells],
                    "skipped": [asdict(s) for s in e.skipped],
                    "tables": [t.to_json() for t in e.tables],
                }
                for e in self.experiments
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
    _check_keys(doc, (), data, TOP_KEYS)
    name = data.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise doc.error(("name",), "expected a name of letters, digits, '_', '.', '-'")
    executor = data.get("executor", "local")
    if not isinstance(executor, str) or executor not in catalog.executors:
        raise doc.error(
            ("executor",),
            str(UnknownNameError("executor", str(executor), catalog.executors.names())),
        )
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise doc.error(("defaults",), "expected a mapping")
    _check_keys(doc, ("defaults",), defaults, DEFAULT_KEYS)
    experiments = data.get("experiments")
    if not isinstance(experiments, dict) or not experiments:
        raise doc.error(("experiments",), "expected a mapping of experiment name to experiment")
    for override in overrides:
        if override.experiment is not None and override.experiment not in experiments:
            raise DlbenchError(
                f"--set {override.text}: no experiment {override.experiment!r}; "
                f"experiments: {', '.join(experiments)}"
            )
    selected = [n for n in experiments if not only or any(fnmatch.fnmatchcase(n, g) for g in only)]
    if not selected:
        raise DlbenchError(
            f"--only {' '.join(only)} matches no experiment; experiments: {', '.join(experiments)}"
        )
    expanded = []
    for exp_name in experiments:
        # Every experiment is validated, selected or not: a broken file fails before anything runs.
        experiment = _load_experiment(
            doc, str(exp_name), defaults, experiments[exp_name], overrides, catalog
        )
        if exp_name in selected:
            expanded.append(experiment)
    description = data.get("description", "")
    if not isinstance(description, str):
        raise doc.error(("description",), "expected a string")
    return Matrix(name, path, description, executor, tuple(expanded))


def _check_keys(
    doc: YamlDocument, keypath: KeyPath, data: dict[str, Any], accepted: Sequence[str]
) -> None:
    for key in data:
        if key not in accepted:
            raise doc.error((*keypath, key), f"unknown key; accepted: {', '.join(accepted)}")


def _load_experiment(
    doc: YamlDocument,
    name: str,
    defaults: dict[str, Any],
    body: Any,
    overrides: Sequence[Override],
    catalog: Catalog,
) -> Experiment:
    keypath: KeyPath = ("experiments", name)
    if not NAME_PATTERN.match(name):
        raise doc.error(keypath, "experiment names use letters, digits, '_', '.', '-'")
    if not isinstance(body, dict):
        raise doc.error(keypath, "expected a mapping with model, dataset, strategy and tables")
    _check_keys(doc, keypath, body, EXPERIMENT_KEYS)
    source = _merge(doc, name, keypath, defaults, body, overrides)
    axes = apply_zip(doc, (*keypath, "zip"), body.get("zip"), find_axes(doc, source, catalog))
    combos = apply_exclude(
        doc, (*keypath, "exclude"), body.get("exclude"), axes, combinations(axes)
    )
    name_axes = {key for axis in axes for key in axis.keys if key.endswith(".name")}
    cells: dict[str, Cell] = {}
    skipped: list[SkippedCell] = []
    for combo in combos:
        cell = build_cell(doc, source, combo, catalog)
        reason = refusal(cell, catalog)
        if reason is None:
            cells.setdefault(cell.id, cell)
        elif name_axes:
            # Reached only by crossing plugin names: mark it and run the rest.
            skipped.append(SkippedCell(name, cell.describe(), reason))
        else:
            raise doc.error(keypath, f"impossible cell: {reason}")
    if not cells:
        raise doc.error(keypath, f"no cell can run: {skipped[0].reason}")
    metrics = sorted(
        {m for c in cells.values() for m in catalog.strategies.get(c.strategy.name).metrics}
    )
    tables = parse_tables(
        doc,
        (*keypath, "tables"),
        body.get("tables"),
        axes=[key for axis in axes for key in axis.keys],
        metrics=metrics,
        cells=list(cells.values()),
    )
    title, description = body.get("title", name), body.get("description", "")
    for key, value in (("title", title), ("description", description)):
        if not isinstance(value, str):
            raise doc.error((*keypath, key), "expected a string")
    return Experiment(name, title, description, tuple(cells.values()), tuple(skipped), tables)


def _merge(
    doc: YamlDocument,
    name: str,
    keypath: KeyPath,
    defaults: dict[str, Any],
    body: dict[str, Any],
    overrides: Sequence[Override],
) -> ExperimentSource:
    """Defaults, then the experiment, then global ``--set``, then this experiment's ``--set``."""
    sections: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    origins: dict[tuple[str, str], Origin] = {}
    seeds: Any = 0
    origins[("seeds", "")] = keypath
    for layer, base in ((defaults, ("defaults",)), (body, keypath)):
        for section in SECTIONS:
            if section not in layer:
                continue
            values = layer[section]
            if isinstance(values, str):
                values = {"name": values}  # `model: mlp` is short for `model: {name: mlp}`
            if not isinstance(values, dict):
                raise doc.error((*base, section), "expected a mapping with 'name' and parameters")
            for key, value in values.items():
                sections[section][str(key)] = value
                origins[(section, str(key))] = (*base, section, key)
        if "seeds" in layer:
            seeds = layer["seeds"]
            origins[("seeds", "")] = (*base, "seeds")
    for override in sorted(overrides, key=lambda o: o.experiment is not None):
        if override.experiment not in (None, name):
            continue
        if override.section == "seeds":
            seeds = override.value
            origins[("seeds", "")] = override.text
        else:
            assert override.key is not None
            sections[override.section][override.key] = override.value
            origins[(override.section, override.key)] = override.text
    for section in SECTIONS:
        if "name" not in sections[section]:
            raise doc.error(keypath, f"no {section} given (set {section}.name here or in defaults)")
    if not isinstance(seeds, (int, list)) or isinstance(seeds, bool):
        raise fail(
            doc, origins[("seeds", "")], f"expected a seed or a list of seeds, got {seeds!r}"
        )
    return ExperimentSource(name, keypath, sections, seeds, origins)
