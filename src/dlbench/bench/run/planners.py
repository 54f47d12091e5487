"""Planners: which cells a run trains, as a pure function of the records stored so far.

The runner asks its planners for the cells wanted now, trains those not stored, and asks again,
until no planner wants more. A rerun replays the same plans from the store: it trains nothing
that is stored, resumes a half-finished decision, and reaches the same decisions whatever
executor or ``--jobs`` ran the cells (waves have a fixed size).

- ``StaticPlanner``: the matrix's expansion: every cell of an experiment that decides
  nothing.
- ``DecisionPlanner``: the runs of experiments that decide comparisons: ``min_runs`` of
  each configuration, then ``wave`` more for each side of a comparison still undecided, up to
  ``max_runs`` (see ``dlbench.stats``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from dlbench.bench.matrix.experiment import Experiment
from dlbench.registry.cell import Cell
from dlbench.registry.records import CellRecord
from dlbench.reports.decisions import Comparison, comparisons
from dlbench.stats.records import RUNNING, Decision

#: An experiment's cells planned now: (its cells, its tuning trials).
PlannedCells = tuple[tuple[Cell, ...], tuple[Cell, ...]]


class Planner(Protocol):
    """Chooses cells from what is stored."""

    def wanted(self, records: Mapping[str, CellRecord]) -> list[Cell]:
        """The cells wanted now, given ``records`` (cell id -> stored record)."""
        ...

    def notes(
        self, records: Mapping[str, CellRecord], wave_seconds: float | None = None
    ) -> list[str]:
        """One line per plan it follows, saying where it stands (for ``--dry-run``, and after
        each wave of a run, ``wave_seconds`` being that wave's wall time)."""
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

    def notes(
        self, records: Mapping[str, CellRecord], wave_seconds: float | None = None
    ) -> list[str]:
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

    def notes(
        self, records: Mapping[str, CellRecord], wave_seconds: float | None = None
    ) -> list[str]:
        """Each comparison's standing, and what it asks for next: pairs so far, the estimate
        and interval, the runs still possible and, given the last wave's wall time, the most
        time they would take."""
        lines = []
        for experiment in self.experiments:
            for comparison in self.comparisons(experiment):
                standing = comparison.standing(records)
                decision, spec = standing.decision, comparison.spec
                head = f"{experiment.name}: {comparison.describe(labelled=True)}"
                if decision.verdict != RUNNING:
                    verdict = comparison.verdict_words(decision)
                    lines.append(f"{head}: {verdict} with {decision.n} pair(s)")
                    continue
                waves = math.ceil((spec.max_runs - standing.wanted) / spec.wave) + 1
                pace = (
                    f" (at most about {_duration(waves * wave_seconds)} at the last wave's pace)"
                    if wave_seconds
                    else ""
                )
                shown = (
                    f", {_interval(decision)}"
                    if decision.n and math.isfinite(decision.estimate)
                    else ""
                )
                lines.append(
                    f"{head}: undecided so far, {decision.n} pair(s){shown}; runs "
                    f"0-{standing.wanted - 1} of each side planned now, then up to "
                    f"{spec.max_runs} in waves of {spec.wave}: at most {waves} more look(s){pace}"
                )
        return lines


def _interval(decision: Decision) -> str:
    """``estimate +0.0028 [-0.0012, +0.0070]`` in the metric's units."""
    return f"estimate {decision.estimate:+.4g} [{decision.low:+.4g}, {decision.high:+.4g}]"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
