"""A run's plan: the planners of a matrix and the cells they want now, with the producers those
need, in the order the matrix runs them (see :mod:`dlbench.bench.run.planners`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dlbench.bench.matrix import Matrix
from dlbench.bench.run.planners import DecisionPlanner, Planner, StaticPlanner
from dlbench.bench.run.tuning import TuningPlanner
from dlbench.registry.cell import Cell
from dlbench.registry.records import CellRecord
from dlbench.reports.decisions import comparisons


def planners(matrix: Matrix) -> list[Planner]:
    """The planners of ``matrix``'s selected experiments: tuned ones, those that decide a
    comparison, and the rest (run as expanded)."""
    tuned = [e for e in matrix.experiments if e.tune is not None]
    deciding = [e for e in matrix.experiments if e.tune is None and comparisons(e.cells, e.tables)]
    static = [e for e in matrix.experiments if e not in tuned and e not in deciding]
    return [StaticPlanner(static), DecisionPlanner(deciding), TuningPlanner(tuned)]


def planned_cells(
    matrix: Matrix, planners: Sequence[Planner], records: Mapping[str, CellRecord]
) -> list[Cell]:
    """The cells the planners want now, with every producer they need, producers first."""
    wanted = {cell.id: cell for planner in planners for cell in planner.wanted(records)}
    pending = list(wanted.values())
    while pending:
        for producer in pending.pop().producers():
            if producer not in wanted:
                wanted[producer] = matrix.cells[producer]
                pending.append(wanted[producer])
    order = {cell_id: index for index, cell_id in enumerate(matrix.cells)}
    # Matrix cells in the matrix's order (producers first); cells a planner made (trials, final
    # runs) after them, in the order it made them (their producers are matrix cells).
    return sorted(wanted.values(), key=lambda cell: order.get(cell.id, len(order)))


def planned_experiments(
    matrix: Matrix, records: Mapping[str, CellRecord]
) -> dict[str, tuple[tuple[Cell, ...], tuple[Cell, ...]]]:
    """Experiment name -> (its cells planned now, its tuning trials planned now), for the
    manifest that reports are drawn from."""
    plans = planners(matrix)
    found: dict[str, tuple[tuple[Cell, ...], tuple[Cell, ...]]] = {}
    for planner in plans:
        if isinstance(planner, TuningPlanner):
            for experiment in planner.experiments:
                finals, trials = planner.split(experiment, records)
                found[experiment.name] = (tuple(finals), tuple(trials))
        elif isinstance(planner, DecisionPlanner):
            wanted = {cell.id for cell in planner.wanted(records)}
            for experiment in planner.experiments:
                found[experiment.name] = (
                    tuple(c for c in experiment.cells if c.id in wanted),
                    (),
                )
    return found
