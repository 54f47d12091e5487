"""A run's plan: the planners of a matrix and the cells they want now, with the producers those
need, in the order the matrix runs them (see ``dlbench.bench.run.planners``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dlbench.bench.matrix import Matrix
from dlbench.bench.matrix.plan import with_producers
from dlbench.bench.run.planners import DecisionPlanner, PlannedCells, Planner, StaticPlanner
from dlbench.bench.run.tuning import TuningPlanner
from dlbench.registry.cell import Cell
from dlbench.registry.records import CellRecord
from dlbench.reports.decisions import Comparison, comparisons


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
    wanted = [cell for planner in planners for cell in planner.wanted(records)]
    closed = with_producers(wanted, matrix.cells)
    order = {cell_id: index for index, cell_id in enumerate(matrix.cells)}
    # Matrix cells in the matrix's order (producers first); cells a planner made (trials, final
    # runs) after them, in the order it made them (their producers are matrix cells).
    return sorted(closed.values(), key=lambda cell: order.get(cell.id, len(order)))


def planned_experiments(
    matrix: Matrix, records: Mapping[str, CellRecord]
) -> dict[str, PlannedCells]:
    """Experiment name -> (its cells planned now, its tuning trials planned now), for the
    manifest that reports are drawn from."""
    found: dict[str, PlannedCells] = {}
    for planner in planners(matrix):
        found.update(planner.planned(records))
    return found


def decided_comparisons(matrix: Matrix) -> list[tuple[str, Comparison]]:
    """(experiment name, comparison) for every comparison the selected experiments decide."""
    return [
        (e.name, comparison)
        for e in matrix.experiments
        if e.tune is None
        for comparison in comparisons(e.cells, e.tables)
    ]
