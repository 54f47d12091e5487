"""Build an experiment's cells: merged sections and one combination of axis values resolved
against the plugin catalog into a ``Cell``, and why a cell cannot run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlbench.bench import machine
from dlbench.bench.matrix.yamlfile import KeyPath, MatrixError, Origin
from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import COMPONENT_KINDS, DEFAULT_VARY, Cell, Component
from dlbench.registry.errors import UnknownNameError
from dlbench.registry.params import ParamError, resolve_params


@dataclass
class ExperimentSource:
    """An experiment after defaults and overrides are merged, before expansion.

    :param sections: ``model``/``dataset``/``strategy`` -> key -> value (lists are axes).
    :param seeds: an int or a list of ints.
    :param origins: where each ``(section, key)``, ``("seeds", "")`` and ``("probes", name)``
        value came from.
    :param probes: probe name -> its parameters.
    :param base_dir: the matrix file's folder, against which relative paths resolve.
    :param applied: indices of the ``--set`` overrides that applied to this experiment.
    :param texts: ``title`` and ``description`` set by ``--set``, over the file's.
    :param vary: the sources of randomness a run's seed varies (see ``VARY_SOURCES``).
    """

    name: str
    keypath: KeyPath
    sections: dict[str, dict[str, Any]]
    seeds: Any
    origins: dict[tuple[str, str], Origin]
    probes: dict[str, Any]
    base_dir: Path
    applied: set[int] = field(default_factory=set)
    texts: dict[str, Any] = field(default_factory=dict)
    vary: tuple[str, ...] = DEFAULT_VARY


def named_blocks(source: ExperimentSource, section: str) -> dict[str, dict[str, Any]]:
    """A section's per-name parameter blocks: ``strategy: {name: [plain, label_smooth],
    label_smooth: {smoothing: 0.1}}`` gives ``label_smooth`` parameters that only cells of that
    name take, so names whose plugins take different parameters can be crossed on one axis."""
    values = source.sections[section]
    names = values.get("name")
    chosen = names if isinstance(names, list) else [names]
    return {
        key: value
        for key, value in values.items()
        if key != "name" and key in chosen and isinstance(value, dict)
    }


#: The largest seed torch's generators take.
MAX_SEED = 2**63 - 1


def build_cell(source: ExperimentSource, combo: Mapping[str, Any], catalog: Catalog) -> Cell:
    """Resolve one combination into a ``Cell``, validating names and parameters."""
    components = {}
    for section in COMPONENT_KINDS:
        blocks = named_blocks(source, section)
        values = {
            key: combo.get(f"{section}.{key}", value)
            for key, value in source.sections[section].items()
            if key not in blocks
        }
        name = values.pop("name", None)
        name_origin = source.origins.get((section, "name"), source.keypath)
        if not isinstance(name, str):
            raise MatrixError(name_origin, f"expected the name of a {section}, got {name!r}")
        try:
            registry = catalog.component(section)
            entry = registry.entry(name)
        except UnknownNameError as exc:
            raise MatrixError(name_origin, str(exc)) from None
        for key, block in blocks.get(name, {}).items():
            values[key] = combo.get(f"{section}.{name}.{key}", block)
        # A block for another registered name (from defaults, say) is not this cell's.
        values = {k: v for k, v in values.items() if not (isinstance(v, dict) and k in registry)}
        if section == "dataset" and "split" in source.vary:
            _check_split_varies(source, entry.spec.params, name)
        try:
            params = resolve(entry.spec.params, values, f"{section} {name!r}")
            for key, param in entry.spec.params.items():
                if param.path and isinstance(params[key], str):
                    # Relative to the matrix, so a matrix means the same wherever it runs from.
                    params[key] = str((source.base_dir / params[key]).expanduser().resolve())
        except ParamError as exc:
            origin = source.origins.get(
                (section, f"{name}.{exc.key}"),
                source.origins.get((section, exc.key), source.keypath),
            )
            raise MatrixError(origin, str(exc)) from None
        components[section] = Component(
            name=name, params=params, plugin=entry.plugin.name, version=entry.plugin.version
        )
    seed = combo.get("seed", source.seeds)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise MatrixError(
            source.origins[("seeds", "")],
            f"expected a seed between 0 and {MAX_SEED} (an integer), got {seed!r}",
        )
    return Cell(**components, seed=seed, vary=tuple(sorted(source.vary)))


def _check_split_varies(source: ExperimentSource, declared: Mapping[str, Any], name: str) -> None:
    """With ``vary: [..., split]`` the seed is the dataset's split seed: it must take one, and
    the matrix must not set it too."""
    origin = source.origins.get(("vary", ""), source.keypath)
    if "split_seed" not in declared:
        raise MatrixError(
            origin,
            f"dataset {name!r} has no split_seed parameter, so its split cannot vary with the "
            "seed; leave split out of vary",
        )
    if "split_seed" in source.sections["dataset"]:
        raise MatrixError(
            source.origins.get(("dataset", "split_seed"), origin),
            "split_seed comes from the seed when vary includes split; remove one of them",
        )


def resolve(declared: Mapping[str, Any], given: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """``registry.params.resolve_params`` with tuples kept JSON-friendly as lists."""
    resolved = resolve_params(declared, given, owner)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in resolved.items()}


def refusal(cell: Cell, catalog: Catalog) -> str | None:
    """Why this cell cannot run (model vs dataset shape, strategy needs), or ``None``."""
    model = catalog.models.get(cell.model.name)
    dataset = catalog.datasets.get(cell.dataset.name)
    strategy = catalog.strategies.get(cell.strategy.name)
    return model.refuses(dataset.input_shape) or strategy.refuses(cell.strategy.params)


def size_refusal(cell: Cell, catalog: Catalog) -> str | None:
    """Why this cell's model cannot fit in this machine's memory, where its plugin can tell."""
    model = catalog.models.get(cell.model.name)
    dataset = catalog.datasets.get(cell.dataset.name)
    classes = cell.dataset.params.get("classes")
    count = len(classes) if isinstance(classes, list) and classes else dataset.num_classes
    return model.too_big(tuple(dataset.input_shape), count, cell.model.params, machine_memory())


def machine_memory() -> int:
    """This machine's physical memory in bytes (a large number where it cannot be read)."""
    return machine.machine_memory() or 2**50
