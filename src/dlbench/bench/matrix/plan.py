"""The plan of a matrix: which cells run in what order, what each must store, which probes."""

from __future__ import annotations

import graphlib
from collections.abc import Mapping, Sequence

from dlbench.bench.matrix.experiment import Experiment
from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import COMPONENT_KINDS, Cell, Component
from dlbench.registry.errors import DlbenchError
from dlbench.registry.params import CELL_REFERENCE


def plan_cells(
    experiments: Sequence[Experiment], expanded: dict[str, Experiment]
) -> dict[str, Cell]:
    """The selected cells plus every producer they need, in dependency order."""
    known = {cell.id: cell for e in expanded.values() for cell in e.cells}
    wanted = with_producers([cell for e in experiments for cell in e.cells], known)
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for cell_id, cell in wanted.items():
        sorter.add(cell_id, *cell.producers())
    # Cells are acyclic by construction: a cell can only refer to cells expanded before it.
    return {cell_id: wanted[cell_id] for cell_id in sorter.static_order()}


def with_producers(cells: Sequence[Cell], known: Mapping[str, Cell]) -> dict[str, Cell]:
    """``cells`` (in their order) then every producer they need, found in ``known``."""
    wanted = {cell.id: cell for cell in cells}
    pending = list(wanted.values())
    while pending:
        for producer in pending.pop(0).producers():
            if producer not in wanted:
                wanted[producer] = known[producer]
                pending.append(wanted[producer])
    return wanted


def required_artifacts(cells: dict[str, Cell], catalog: Catalog) -> dict[str, frozenset[str]]:
    """Cell id -> the kinds of artifact (a checkpoint) its consumers need it to store."""
    required: dict[str, set[str]] = {}
    for cell in cells.values():
        for section in COMPONENT_KINDS:
            component: Component = getattr(cell, section)
            declared = catalog.component(section).get(component.name).params
            for key, value in component.params.items():
                param = declared.get(key)
                if param is not None and param.artifact and isinstance(value, str):
                    producer = value.removeprefix(CELL_REFERENCE)
                    required.setdefault(producer, set()).add(param.artifact)
    return {cell_id: frozenset(kinds) for cell_id, kinds in required.items()}


def probes_by_cell(experiments: Sequence[Experiment]) -> dict[str, tuple[Component, ...]]:
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
