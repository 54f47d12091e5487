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
from dlbench.registry.cell import COMPONENT_KINDS, VARY_SOURCES

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
        source.seeds = repeat_seeds(layer["repeats"], (*base, "repeats"))
        source.origins[("seeds", "")] = (*base, "repeats")
    if "vary" in layer:
        source.vary = vary_sources(layer["vary"], (*base, "vary"))
        source.origins[("vary", "")] = (*base, "vary")
    if "probes" in layer:
        if not isinstance(layer["probes"], dict):
            raise MatrixError((*base, "probes"), "expected a mapping of probe name to parameters")
        for probe, params in layer["probes"].items():
            source.probes[str(probe)] = params
            source.origins[("probes", str(probe))] = (*base, "probes", probe)


def vary_sources(value: Any, origin: Origin) -> tuple[str, ...]:
    """``vary: [init, order, split]``: the sources of randomness a run's seed varies."""
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v in VARY_SOURCES for v in value)
        or len(set(value)) != len(value)
    ):
        raise MatrixError(
            origin,
            f"expected a list of distinct sources among {', '.join(VARY_SOURCES)}, got {value!r}",
        )
    return tuple(value)


def repeat_seeds(repeats: Any, origin: Origin) -> list[int]:
    """The seeds ``repeats: N`` stands for: 0..N-1, so that every experiment with the same
    repeats shares them and their differences can be paired by seed."""
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= MAX_REPEATS:
        raise MatrixError(
            origin, f"expected a number of runs between 1 and {MAX_REPEATS}, got {repeats!r}"
        )
    return list(range(repeats))


def _apply_overrides(source: ExperimentSource, scope: MatrixScope) -> None:
    # Names first, so a global parameter override can ask whether the chosen plugin takes it.
    ordered = sorted(
        enumerate(scope.overrides),
        key=lambda item: (item[1].experiment is not None, item[1].key != "name"),
    )
    for index, override in ordered:
        if override.experiment not in (None, source.name):
            continue
        if _apply(source, override, scope.catalog):
            source.applied.add(index)


def _apply(source: ExperimentSource, override: Override, catalog: Catalog) -> bool:
    """Apply one override to ``source``; whether it applied (a global override of a parameter
    applies only where the experiment's plugin takes it, or its per-name block's name is
    crossed)."""
    origin: Origin = override.text
    if override.section == "seeds":
        source.seeds = override.value
        source.origins[("seeds", "")] = origin
        return True
    if override.section == "repeats":
        source.seeds = repeat_seeds(override.value, origin)
        source.origins[("seeds", "")] = origin
        return True
    if override.section == "vary":
        source.vary = vary_sources(override.value, origin)
        source.origins[("vary", "")] = origin
        return True
    if override.section in ("title", "description"):
        source.texts[override.section] = override.value
        source.origins[(override.section, "")] = origin
        return True
    assert override.key is not None
    if override.section == "probes":
        probe, _, key = override.key.partition(".")
        params = source.probes.get(probe)
        source.probes[probe] = {**(params if isinstance(params, dict) else {}), key: override.value}
        source.origins.setdefault(("probes", probe), origin)
        return True
    values = source.sections[override.section]
    block = override.block
    if block is not None:
        name, key = block
        names = values.get("name")
        if name not in (names if isinstance(names, list) else [names]):
            return False
        current = values.get(name)
        values[name] = {**(current if isinstance(current, dict) else {}), key: override.value}
        source.origins[(override.section, override.key)] = origin
        return True
    if override.experiment is None and not _accepts(
        catalog, override.section, values.get("name"), override.key
    ):
        return False
    values[override.key] = override.value
    source.origins[(override.section, override.key)] = origin
    return True


def _accepts(catalog: Catalog, section: str, names: Any, key: str) -> bool:
    if key == "name":
        return True
    # An unknown name accepts everything here: it is reported where the name is checked.
    return any(
        declared is None or key in declared for _, declared in catalog.declarations(section, names)
    )
