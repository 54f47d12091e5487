"""Merge an experiment with the matrix defaults and the ``--set`` overrides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.expand import ExperimentSource, Origin, fail
from bench.overrides import SECTIONS, Override
from bench.yamlfile import KeyPath, YamlDocument
from registry.catalog import Catalog

_PLURAL = {"model": "models", "dataset": "datasets", "strategy": "strategies"}


def merge_experiment(
    doc: YamlDocument,
    name: str,
    keypath: KeyPath,
    defaults: dict[str, Any],
    body: dict[str, Any],
    overrides: Sequence[Override],
    catalog: Catalog,
    applied: set[int],
) -> ExperimentSource:
    """Defaults, then the experiment, then global ``--set``, then this experiment's ``--set``.

    A global ``--set`` of a parameter applies to the experiments whose plugin accepts that
    parameter, so ``--set model.channels=[8,16]`` narrows the CNNs of a matrix and leaves its MLPs
    alone. ``applied`` collects the indices of the overrides that applied somewhere.
    """
    sections: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    origins: dict[tuple[str, str], Origin] = {("seeds", ""): keypath}
    seeds: Any = 0
    probes: dict[str, Any] = {}
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
        if "seeds" in layer and "repeats" in layer:
            raise doc.error((*base, "repeats"), "give seeds or repeats, not both")
        if "seeds" in layer:
            seeds = layer["seeds"]
            origins[("seeds", "")] = (*base, "seeds")
        if "repeats" in layer:
            repeats = layer["repeats"]
            if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
                raise doc.error(
                    (*base, "repeats"), f"expected a number of runs >= 1, got {repeats!r}"
                )
            # Derived seeds 0..N-1: every experiment with the same repeats shares them, so
            # their differences can be paired by seed.
            seeds = list(range(repeats))
            origins[("seeds", "")] = (*base, "repeats")
        if "probes" in layer:
            if not isinstance(layer["probes"], dict):
                raise doc.error((*base, "probes"), "expected a mapping of probe name to parameters")
            for probe, params in layer["probes"].items():
                probes[str(probe)] = params
                origins[("probes", str(probe))] = (*base, "probes", probe)
    # Names first, so a global parameter override can ask whether the chosen plugin takes it.
    ordered = sorted(
        enumerate(overrides),
        key=lambda item: (item[1].experiment is not None, item[1].key != "name"),
    )
    for index, override in ordered:
        if override.experiment not in (None, name):
            continue
        if override.section == "seeds":
            seeds = override.value
            origins[("seeds", "")] = override.text
            applied.add(index)
            continue
        assert override.key is not None
        values = sections[override.section]
        if override.experiment is None and not _accepts(
            catalog, override.section, values.get("name"), override.key
        ):
            continue
        values[override.key] = override.value
        origins[(override.section, override.key)] = override.text
        applied.add(index)
    for section in SECTIONS:
        if "name" not in sections[section]:
            raise doc.error(keypath, f"no {section} given (set {section}.name here or in defaults)")
    if not isinstance(seeds, (int, list)) or isinstance(seeds, bool):
        raise fail(
            doc, origins[("seeds", "")], f"expected a seed or a list of seeds, got {seeds!r}"
        )
    return ExperimentSource(name, keypath, sections, seeds, origins, probes)


def _accepts(catalog: Catalog, section: str, names: Any, key: str) -> bool:
    if key == "name":
        return True
    registry = catalog.of_kind(_PLURAL[section])
    for name in names if isinstance(names, list) else [names]:
        if not isinstance(name, str) or name not in registry:
            return True  # let the unknown name be reported where it is
        if key in registry.get(name).params:
            return True
    return False
