"""Comparisons that ask to be decided: what a derived column declares (:class:`DecideSpec`), and
where a comparison stands given the runs stored so far (:func:`evaluate`), which the runner's
planner and the reports both read, so the table says what the planner acted on.

Runs are paired by seed: seed ``s`` of A and seed ``s`` of B share every varied source of
randomness. A comparison plans seeds ``0 .. min_runs - 1`` first, then ``wave`` more at a time
while undecided, up to ``max_runs``; it looks after each planned count whose runs are all
recorded. A failed run leaves its pair out (the look rests on the complete pairs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from dlbench.registry.cell import Cell
from dlbench.registry.records import CellRecord
from dlbench.reports.sequential import (
    BETTER_A,
    BETTER_B,
    MIN_RUNS,
    RUNNING,
    UNDECIDED,
    Decision,
    decide,
    look_schedule,
    runs_needed,
)
from dlbench.reports.table import metric_value

if TYPE_CHECKING:
    from dlbench.reports.manifest import DerivedColumn, TableSpec

#: Metrics where lower is better; any other is taken as higher-is-better.
LOWER_IS_BETTER = ("loss", "seconds", "parameters")


@dataclass(frozen=True)
class DecideSpec:
    """How a derived column ``A - B`` is decided.

    :param confidence: the simultaneous coverage of the repeated confidence intervals; a false
        "better" (or "equivalent") happens with probability at most ``1 - confidence``.
    :param margin: the region of practical equivalence, ``±margin`` in the metric's own units
        (accuracies are fractions: 0.005 is half a percentage point); 0 for none.
    :param min_runs: runs of each configuration before the first look.
    :param max_runs: the most runs of each configuration; undecided there, it says so.
    :param wave: runs added to each configuration between looks.
    :param higher_is_better: which sign of ``A - B`` favours A (default: from the metric).
    """

    confidence: float = 0.95
    margin: float = 0.0
    min_runs: int = 3
    max_runs: int = 20
    wave: int = 2
    higher_is_better: bool = True

    def schedule(self) -> tuple[int, ...]:
        """The planned numbers of runs per configuration at which the comparison looks."""
        return look_schedule(self.min_runs, self.wave, self.max_runs)


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is the better one (accuracies, images/s)."""
    return not any(word in metric for word in LOWER_IS_BETTER)


@dataclass(frozen=True)
class Standing:
    """A comparison's decision and how many runs of each side it wants now."""

    decision: Decision
    wanted: int


def evaluate(
    spec: DecideSpec, a: Mapping[int, float | None], b: Mapping[int, float | None]
) -> Standing:
    """Where ``A - B`` stands on the runs recorded so far.

    :param a: seed -> A's metric for that run, ``None`` for a run that failed; ``b`` alike.
    :returns: the decision at the first decisive look (or the last look taken), and how many
        runs (seeds ``0 .. wanted - 1``) each side should have for the next look.
    """
    looks: dict[int, int] = {}  # pairs seen at a look -> the planned runs of that look
    schedule = spec.schedule()
    wanted = schedule[0]
    for index, planned in enumerate(schedule):
        if not all(seed in a and seed in b for seed in range(planned)):
            wanted = planned
            break
        pairs = _pairs(a, b, planned)
        if len(pairs) >= MIN_RUNS and (not looks or len(pairs) > max(looks)):
            looks[len(pairs)] = planned
        wanted = schedule[min(index + 1, len(schedule) - 1)]
    differences = _pairs(a, b, max(looks.values(), default=0))
    decision = decide(
        differences,
        tuple(looks),
        confidence=spec.confidence,
        margin=spec.margin,
        max_runs=spec.max_runs,
    )
    if decision.verdict in (BETTER_A, BETTER_B) and not spec.higher_is_better:
        # A smaller A - B is A's win for a loss or a time.
        decision = replace(decision, verdict=BETTER_B if decision.verdict == BETTER_A else BETTER_A)
    if decision.verdict != RUNNING:
        return Standing(decision, looks.get(decision.n, wanted))
    recorded_all = all(seed in a and seed in b for seed in range(spec.max_runs))
    if recorded_all:
        multiplier = decision.multiplier
        decision = replace(
            decision,
            verdict=UNDECIDED,
            needed=runs_needed(differences[: decision.n], spec.margin, multiplier),
        )
        return Standing(decision, spec.max_runs)
    return Standing(decision, wanted)


def _pairs(a: Mapping[int, float | None], b: Mapping[int, float | None], runs: int) -> list[float]:
    """The differences A - B of the seeds below ``runs`` that finished on both sides."""
    found = []
    for seed in range(runs):
        first, second = a.get(seed), b.get(seed)
        if first is not None and second is not None:
            found.append(first - second)
    return found


@dataclass(frozen=True)
class Comparison:
    """One decided comparison: a row of a table's derived column, and the cells of its sides.

    :param a: the minuend's cells (one configuration, by seed); ``b`` the subtrahend's.
    """

    table: TableSpec
    derived: DerivedColumn
    row: str
    a: tuple[Cell, ...]
    b: tuple[Cell, ...]

    @property
    def spec(self) -> DecideSpec:
        """How it is decided."""
        assert self.derived.decide is not None
        return self.derived.decide

    def describe(self) -> str:
        """``Improvement at depth=8 (residual_mlp - mlp)``."""
        where = f" at {self.table.rows.rpartition('.')[2]}={self.row}" if self.row else ""
        return f"{self.derived.title}{where} ({self.derived.minuend} - {self.derived.subtrahend})"

    def standing(self, records: Mapping[str, CellRecord]) -> Standing:
        """Where it stands given ``records`` (cell id -> stored record)."""
        metric, at = self.table.metric, self.table.at
        return evaluate(
            self.spec,
            arm_values(self.a, records, metric, at),
            arm_values(self.b, records, metric, at),
        )


def comparisons(cells: Sequence[Cell], tables: Sequence[TableSpec]) -> list[Comparison]:
    """The decided comparisons of an experiment's ``tables`` over its ``cells``."""
    found = []
    for table in tables:
        decided = [d for d in table.derived if d.decide is not None]
        if not decided or table.columns is None:
            continue
        groups: dict[tuple[str, str], list[Cell]] = {}
        for cell in cells:
            key = (str(cell.value(table.rows)), str(cell.value(table.columns)))
            groups.setdefault(key, []).append(cell)
        rows = list(dict.fromkeys(row for row, _ in groups))
        for row in rows:
            for derived in decided:
                a = groups.get((row, derived.minuend), [])
                b = groups.get((row, derived.subtrahend), [])
                if a and b:
                    found.append(Comparison(table, derived, row, by_seed(a), by_seed(b)))
    return found


def arm_values(
    cells: Sequence[Cell], records: Mapping[str, CellRecord], metric: str, at: str
) -> dict[int, float | None]:
    """Seed -> the metric of that run; ``None`` for a run recorded as failed or skipped (or
    without the metric). Runs without a record are absent."""
    values: dict[int, float | None] = {}
    for cell in cells:
        record = records.get(cell.id)
        if record is not None:
            values[cell.seed] = metric_value(record, metric, at) if record.status == "ok" else None
    return values


def by_seed(cells: Sequence[Cell]) -> tuple[Cell, ...]:
    """Cells in seed order."""
    return tuple(sorted(cells, key=lambda cell: cell.seed))
