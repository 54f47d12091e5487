"""References between experiments: ``{from: EXPERIMENT, where: {KEY: VALUE}}`` parameter values.

A reference names the cells of another experiment whose artifact (a checkpoint, say) a parameter
takes. It resolves to ``cell:<id>``, so the consumer's identity follows the producer's; a
reference matching several cells is an axis over them. Experiments are expanded producers first;
a cycle or a reference to a missing experiment is a matrix error.
"""

from __future__ import annotations

import graphlib
from collections.abc import Mapping, Sequence
from typing import Any

from dlbench.bench.matrix.expand import ExperimentSource
from dlbench.bench.matrix.yamlfile import KeyPath, MatrixError, Origin
from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import COMPONENT_KINDS, Cell
from dlbench.registry.params import CELL_REFERENCE

REFERENCE_KEYS = ("from", "where")


def is_reference(value: Any) -> bool:
    """Whether a matrix value is a ``{from: ...}`` reference."""
    return isinstance(value, dict) and "from" in value


def references_in(layers: Sequence[tuple[Mapping[str, Any], KeyPath]]) -> dict[str, KeyPath]:
    """Experiments that ``layers`` (defaults, an experiment) refer to, with where they do."""
    found: dict[str, KeyPath] = {}
    for layer, base in layers:
        for section in COMPONENT_KINDS:
            values = layer.get(section)
            if not isinstance(values, dict):
                continue
            for key, value in values.items():
                if is_reference(value):
                    found.setdefault(str(value["from"]), (*base, section, key, "from"))
    return found


def experiment_order(dependencies: Mapping[str, Mapping[str, KeyPath]]) -> list[str]:
    """Experiment names with every producer before its consumers.

    :param dependencies: experiment -> {referenced experiment: where the reference is}.
    :raises MatrixError: for a reference to a missing experiment, or a cycle.
    """
    for referenced in dependencies.values():
        for target, keypath in referenced.items():
            if target not in dependencies:
                raise MatrixError(
                    keypath,
                    f"refers to unknown experiment {target!r}; "
                    f"experiments: {', '.join(dependencies)}",
                )
    sorter = graphlib.TopologicalSorter({name: set(refs) for name, refs in dependencies.items()})
    try:
        return list(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        first, second = cycle[0], cycle[1]
        raise MatrixError(
            dependencies[second][first],
            "experiments depend on each other in a cycle: " + " -> ".join(reversed(cycle)),
        ) from None


def resolve_references(
    source: ExperimentSource,
    produced: Mapping[str, Sequence[Cell]],
    catalog: Catalog,
) -> None:
    """Replace every reference in ``source`` by ``cell:<id>`` (or a list of them: an axis)."""
    for section in COMPONENT_KINDS:
        values = source.sections[section]
        for key, value in values.items():
            if not is_reference(value):
                continue
            origin = source.origins[(section, key)]
            _check_takes_reference(origin, section, values.get("name"), key, catalog)
            cells = _select(origin, value, produced)
            ids = [f"{CELL_REFERENCE}{cell.id}" for cell in cells]
            values[key] = ids[0] if len(ids) == 1 else ids


def _check_takes_reference(
    origin: Origin, section: str, names: Any, key: str, catalog: Catalog
) -> None:
    for name, declared in catalog.declarations(section, names):
        if declared is None:
            continue  # reported with the name itself
        param = declared.get(key)
        if param is None or param.artifact is None:
            raise MatrixError(
                origin, f"{section} {name!r} parameter {key!r} does not take a reference"
            )


def _select(
    origin: Origin, value: dict[str, Any], produced: Mapping[str, Sequence[Cell]]
) -> list[Cell]:
    for key in value:
        if key not in REFERENCE_KEYS:
            raise MatrixError(origin, f"unknown key {key!r} in a reference; accepted: from, where")
    where = value.get("where", {})
    if not isinstance(where, dict):
        raise MatrixError(
            origin, "where: expected a mapping of key to value, e.g. {model.depth: 2}"
        )
    cells = list(produced[str(value["from"])])
    for key, wanted in where.items():
        try:
            cells = [cell for cell in cells if cell.value(str(key)) == wanted]
        except KeyError:
            raise MatrixError(
                origin, f"where: {key!r} is not a key of the referenced cells"
            ) from None
    if not cells:
        raise MatrixError(origin, f"matches no cell of experiment {value['from']!r}")
    return cells
