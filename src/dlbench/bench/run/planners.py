"""Planners: which cells a run trains, as a pure function of the records stored so far.

The runner asks its planners for the cells wanted now, trains those not stored, and asks again,
until no planner wants more. A rerun replays the same plans from the store: it trains nothing
that is stored, resumes a half-finished decision, and reaches the same decisions whatever
executor or ``--jobs`` ran the cells (waves have a fixed size).

- :class:`StaticPlanner`: the matrix's expansion: every cell of an experiment that decides
  nothing.
- :class:`DecisionPlanner`: the runs of experiments that decide comparisons: ``min_runs`` of
  each configuration, then ``wave`` more for each side of a comparison still undecided, up to
  ``max_runs`` (see :mod:`dlbench.stats`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from dlbench.bench.matrix.experiment import Experiment
from dlbench.registry.cell import Cell
from dlbench.registry.records import CellRecord
from dlbench.reports.decisions import Comparison, comparisons
from dlbench.stats.records import RUNNING

#: An experiment's cells planned now: (its cells, its tuning trials).
PlannedCells = tuple[tuple[Cell, ...], tuple[Cell, ...]]


class Planner(Protocol):
    """Chooses cells from what is stored."""

    def wanted(self, records: Mapping[str, CellRecord]) -> list[Cell]:
        """The cells wanted now, given ``records`` (cell id -> stored record)."""
        ...

    def notes(self, records: Mapping[str, CellRecord]) -> list[str]:
        """One line per plan it follows, saying where it stands (for ``--dry-run``)."""
        ...

    def planned(self, records: Mapping[str, CellRecord]) -> dict[str, PlannedCells]:
        """Experiment name -> its cells planned now, for the manifest (experiments whose cells
        are their expansion are left out)."""
        ...


def configuration(cell: Cell) -> str:
    """A cell's configuration: everything but its seed."""
    return json.dumps({**cell.to_json(), "seed": None}, sort_keys=True)


@dataclass(frozen=True)
class StaticPlanner:
    """Every cell of the experiments given, at once."""

    experiments: Sequence[Experiment]

    def wanted(self, records: Mapping[str, CellRecord]) -> list[Cell]:
        """All of their cells."""
        return [cell for experiment in self.experiments for cell in experiment.cells]

    def notes(self, records: Mapping[str, CellRecord]) -> list[str]:
        """Nothing to say: the cells are the plan."""
        return []

    def planned(self, records: Mapping[str, CellRecord]) -> dict[str, PlannedCells]:
        """Nothing: the experiments' cells are their expansion."""
        return {}


@dataclass(frozen=True)
class DecisionPlanner:
    """The runs of experiments whose tables decide comparisons."""

    experiments: Sequence[Experiment]

    def comparisons(self, experiment: Experiment) -> list[Comparison]:
        """The experiment's decided comparisons."""
        return comparisons(experiment.cells, experiment.tables)

    def wanted(self, records: Mapping[str, CellRecord]) -> list[Cell]:
        """Seeds ``0 .. n - 1`` of each configuration, ``n`` as its comparisons want it (at
        least the largest ``min_runs`` for a configuration no comparison uses)."""
        cells = []
        for experiment in self.experiments:
            found = self.comparisons(experiment)
            demand: dict[str, int] = {}
            for comparison in found:
                runs = comparison.standing(records).wanted
                for side in (comparison.a, comparison.b):
                    key = configuration(side[0])
                    demand[key] = max(demand.get(key, 0), runs)
            floor = max((c.spec.min_runs for c in found), default=0)
            cells += [
                cell
                for cell in experiment.cells
                if cell.seed < demand.get(configuration(cell), floor)
            ]
        return cells

    def planned(self, records: Mapping[str, CellRecord]) -> dict[str, PlannedCells]:
        """Each experiment's runs planned now."""
        wanted = {cell.id for cell in self.wanted(records)}
        return {e.name: (tuple(c for c in e.cells if c.id in wanted), ()) for e in self.experiments}

    def notes(self, records: Mapping[str, CellRecord]) -> list[str]:
        """Each comparison's standing, and what it asks for next."""
        lines = []
        for experiment in self.experiments:
            for comparison in self.comparisons(experiment):
                standing = comparison.standing(records)
                decision, spec = standing.decision, comparison.spec
                head = f"{experiment.name}: {comparison.describe()}"
                if decision.verdict == RUNNING:
                    lines.append(
                        f"{head}: {decision.n} pair(s) so far; runs 0-{standing.wanted - 1} of "
                        f"each side planned now, up to {spec.max_runs} in waves of {spec.wave}"
                    )
                else:
                    verdict = comparison.verdict_words(decision)
                    lines.append(f"{head}: {verdict} with {decision.n} pair(s)")
        return lines
