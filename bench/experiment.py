"""Load one experiment of a matrix: merge, resolve references, expand, validate its tables."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.expand import (
    ExperimentSource,
    SkippedCell,
    apply_exclude,
    apply_zip,
    build_cell,
    combinations,
    fail,
    find_axes,
    refusal,
)
from bench.merge import merge_experiment
from bench.overrides import SECTIONS, Override
from bench.references import resolve_references
from bench.table_spec import TableSpec, parse_tables
from bench.yamlfile import KeyPath, YamlDocument
from registry.catalog import Catalog
from registry.cell import Cell, Component
from registry.errors import UnknownNameError
from registry.params import ParamError, resolve_params

EXPERIMENT_KEYS = (
    "title",
    "description",
    *SECTIONS,
    "seeds",
    "repeats",
    "probes",
    "zip",
    "exclude",
    "tables",
)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


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


def check_keys(
    doc: YamlDocument, keypath: KeyPath, data: Mapping[str, Any], accepted: Sequence[str]
) -> None:
    """Every key of ``data`` is one of ``accepted``, or a located error says which are."""
    for key in data:
        if key not in accepted:
            raise doc.error((*keypath, key), f"unknown key; accepted: {', '.join(accepted)}")


def load_experiment(
    doc: YamlDocument,
    name: str,
    defaults: dict[str, Any],
    body: Any,
    overrides: Sequence[Override],
    catalog: Catalog,
    produced: Mapping[str, Sequence[Cell]],
    applied: set[int],
) -> Experiment:
    """Expand experiment ``name``; ``produced`` holds the cells of experiments expanded before."""
    keypath: KeyPath = ("experiments", name)
    if not NAME_PATTERN.match(name):
        raise doc.error(keypath, "experiment names use letters, digits, '_', '.', '-'")
    if not isinstance(body, dict):
        raise doc.error(keypath, "expected a mapping with model, dataset, strategy and tables")
    check_keys(doc, keypath, body, EXPERIMENT_KEYS)
    source = merge_experiment(doc, name, keypath, defaults, body, overrides, catalog, applied)
    resolve_references(doc, source, produced, catalog)
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
    return Experiment(
        name,
        title,
        description,
        tuple(cells.values()),
        tuple(skipped),
        tables,
        _resolve_probes(doc, source, catalog),
    )


def _resolve_probes(
    doc: YamlDocument, source: ExperimentSource, catalog: Catalog
) -> tuple[Component, ...]:
    probes = []
    for name, params in source.probes.items():
        origin = source.origins[("probes", name)]
        try:
            entry = catalog.probes.entry(name)
        except UnknownNameError as exc:
            raise fail(doc, origin, str(exc)) from None
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise fail(doc, origin, "expected a mapping of the probe's parameters")
        try:
            resolved = resolve_params(entry.spec.params, params, f"probe {name!r}")
        except ParamError as exc:
            raise fail(doc, origin, str(exc)) from None
        probes.append(
            Component(
                name,
                {k: list(v) if isinstance(v, tuple) else v for k, v in resolved.items()},
                entry.plugin.name,
                entry.plugin.version,
            )
        )
    return tuple(probes)
