"""Merge an experiment with the matrix defaults and the ``--set`` overrides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlbench.bench.matrix.expand import ExperimentSource
from dlbench.bench.matrix.overrides import Override
from dlbench.bench.matrix.yamlfile import KeyPath, MatrixError, Origin
from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import COMPONENT_KINDS

#: Every matrix's seeds and repeats are bounded, so that a typo cannot ask for a billion cells.
MAX_REPEATS = 1000


@dataclass(frozen=True)
class MatrixScope:
    """What every experiment of one matrix file is read against.

    :param defaults: the file's ``defaults`` mapping.
    :param overrides: the ``--set`` options, applied after the file's values.
    :param base_dir: the matrix file's folder, against which relative paths resolve.
    """

    catalog: Catalog
    defaults: Mapping[str, Any]
    overrides: tuple[Override, ...]
    base_dir: Path


def merge_experiment(name: str, body: Mapping[str, Any], scope: MatrixScope) -> ExperimentSource:
    """Defaults, then the experiment, then global ``--set``, then this experiment's ``--set``.

    A global ``--set`` of a parameter applies to the experiments whose plugin accepts that
    parameter, so ``--set model.channels=[8,16]`` narrows the CNNs of a matrix and leaves its MLPs
    alone. The result's ``applied`` lists the overrides that applied here.
    """
    keypath: KeyPath = ("experiments", name)
    source = ExperimentSource(
        name,
        keypath,
        {s: {} for s in COMPONENT_KINDS},
        0,
        {("seeds", ""): keypath},
        {},
        scope.base_dir,
    )
    for layer, base in ((scope.defaults, ("defaults",)), (body, keypath)):
        _merge_layer(source, layer, base)
    _apply_overrides(source, scope)
    for section in COMPONENT_KINDS:
        if "name" not in source.sections[section]:
            raise MatrixError(
                keypath, f"no {section} given (set {section}.name here or in defaults)"
            )
    if not isinstance(source.seeds, (int, list)) or isinstance(source.seeds, bool):
        raise MatrixError(
            source.origins[("seeds", "")],
            f"expected a seed or a list of seeds, got {source.seeds!r}",
        )
    return source


def _merge_layer(source: ExperimentSource, layer: Mapping[str, Any], base: KeyPath) -> None:
    """Lay one mapping (the defaults, or the experiment) over what ``source`` holds."""
    for section in COMPONENT_KINDS:
        if section not in layer:
            continue
        values = layer[section]
        if isinstance(values, str):
            values = {"name": values}  # `model: mlp` is short for `model: {name: mlp}`
        if not isinstance(values, dict):
            raise MatrixError((*base, section), "expected a mapping with 'name' and parameters")
        for key, value in values.items():
            merged = source.sections[section].get(str(key))
            if isinstance(value, dict) and isinstance(merged, dict) and "from" not in value:
                # A per-name block: the experiment's keys over the defaults', key by key.
                value = {**merged, **value}
            source.sections[section][str(key)] = value
            source.origins[(section, str(key))] = (*base, section, key)
            if isinstance(value, dict):
                for inner in value:
                    source.origins[(section, f"{key}.{inner}")] = (*base, section, key, inner)
    if "seeds" in layer and "repeats" in layer:
        raise MatrixError((*base, "repeats"), "give seeds or repeats, not both")
    if "seeds" in layer:
        source.seeds = layer["seeds"]
        source.origins[("seeds", "")] = (*base, "seeds")
    if "repeats" in layer:
        repeats = layer["repeats"]
        if (
            isinstance(repeats, bool)
            or not isinstance(repeats, int)
            or not 1 <= repeats <= MAX_REPEATS
        ):
            raise MatrixError(
                (*base, "repeats"),
                f"expected a number of runs between 1 and {MAX_REPEATS}, got {repeats!r}",
            )
        # Derived seeds 0..N-1: every experiment with the same repeats shares them, so
        # their differences can be paired by seed.
        source.seeds = list(range(repeats))
        source.origins[("seeds", "")] = (*base, "repeats")
    if "probes" in layer:
        if not isinstance(layer["probes"], dict):
            raise MatrixError((*base, "probes"), "expected a mapping of probe name to parameters")
        for probe, params in layer["probes"].items():
            source.probes[str(probe)] = params
            source.origins[("probes", str(probe))] = (*base, "probes", probe)


def _apply_overrides(source: ExperimentSource, scope: MatrixScope) -> None:
    # Names first, so a global parameter override can ask whether the chosen plugin takes it.
    ordered = sorted(
        enumerate(scope.overrides),
        key=lambda item: (item[1].experiment is not None, item[1].key != "name"),
    )
    for index, override in ordered:
        if override.experiment not in (None, source.name):
            continue
        origin: Origin = override.text
        if override.section == "seeds":
            source.seeds = override.value
            source.origins[("seeds", "")] = origin
            source.applied.add(index)
            continue
        assert override.key is not None
        values = source.sections[override.section]
        if override.experiment is None and not _accepts(
            scope.catalog, override.section, values.get("name"), override.key
        ):
            continue
        values[override.key] = override.value
        source.origins[(override.section, override.key)] = origin
        source.applied.add(index)


def _accepts(catalog: Catalog, section: str, names: Any, key: str) -> bool:
    if key == "name":
        return True
    # An unknown name accepts everything here: it is reported where the name is checked.
    return any(
        declared is None or key in declared for _, declared in catalog.declarations(section, names)
    )
