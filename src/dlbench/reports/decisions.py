"""Comparisons that ask to be decided: the rows of a table's decided derived columns and the
cells of their sides, and where each stands given the runs stored so far (the statistics are
``dlbench.stats``'s), which the runner's planner and the reports both read, so the table says
what the planner acted on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from dlbench.registry.cell import Cell
from dlbench.registry.records import CellRecord, metric_value
from dlbench.stats.evaluate import Standing, evaluate, values_of
from dlbench.stats.probability import ProbabilityOfBetter, probability_of_better
from dlbench.stats.records import (
    BETTER_A,
    BETTER_B,
    RUNNING,
    UNDECIDED,
    DecideSpec,
    Decision,
)

if TYPE_CHECKING:
    from dlbench.reports.manifest import DerivedColumn, TableSpec


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
    #: Decided comparisons sharing the error rate with this one (``family: table``).
    family_size: int = 1

    @property
    def spec(self) -> DecideSpec:
        """How it is decided."""
        assert self.derived.decide is not None
        return self.derived.decide

    def describe(self, labelled: bool = False) -> str:
        """``Improvement at depth=8 (residual_mlp - mlp)``; with ``labelled``, the sides as the
        table labels them (``Residual - Plain``)."""
        where = f" at {self.table.rows.rpartition('.')[2]}={self.row}" if self.row else ""
        first, second = self.side_names(labelled)
        return f"{self.derived.title}{where} ({first} - {second})"

    def side_names(self, labelled: bool = True) -> tuple[str, str]:
        """The two sides' names, as the table labels them or as the matrix names them."""
        first, second = self.derived.minuend, self.derived.subtrahend
        if not labelled:
            return first, second
        return self.table.labels.get(first, first), self.table.labels.get(second, second)

    def verdict_words(self, decision: Decision) -> str:
        """The verdict in plain words with the table's labels: ``Residual better``,
        ``equivalent``, ``undecided at 20 runs a side``, ``undecided so far``; and the runs that
        failed."""
        first, second = self.side_names()
        words = {
            BETTER_A: f"{first} better",
            BETTER_B: f"{second} better",
            UNDECIDED: f"undecided at {decision.n} runs a side"
            + (f" ({decision.note})" if decision.note.startswith("no pair") else ""),
            RUNNING: "undecided so far",
        }.get(decision.verdict, decision.verdict)
        return f"{words} ({decision.failures})" if decision.failures else words

    def standing(self, records: Mapping[str, CellRecord]) -> Standing:
        """Where it stands given ``records`` (cell id -> stored record)."""
        metric, at = self.table.metric, self.table.at
        return evaluate(
            self.spec,
            arm_values(self.a, records, metric, at),
            arm_values(self.b, records, metric, at),
            self.family_size,
        )

    def sides(self, records: Mapping[str, CellRecord], runs: int) -> tuple[np.ndarray, np.ndarray]:
        """Seeds ``0 .. runs - 1`` of each side as floats, NaN for a failed run."""
        metric, at = self.table.metric, self.table.at
        return (
            values_of(arm_values(self.a, records, metric, at), runs),
            values_of(arm_values(self.b, records, metric, at), runs),
        )

    def probability(
        self, records: Mapping[str, CellRecord], decision: Decision
    ) -> ProbabilityOfBetter | None:
        """P(A > B) on the pairs the decision rests on, "better" as the comparison reads it."""
        a, b = self.sides(records, decision.n)
        return probability_of_better(a, b, self.spec.higher_is_better, self.spec.confidence)

    def key(self) -> str:
        """What names this comparison in the results directory's stored designs: the table's
        metric and the configurations of its two sides (not their place in the file)."""
        sides = [{**cell.to_json(), "seed": None} for cell in (self.a[0], self.b[0])]
        text = json.dumps([self.table.metric, self.table.at, sides], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def comparisons(cells: Sequence[Cell], tables: Sequence[TableSpec]) -> list[Comparison]:
    """The decided comparisons of an experiment's ``tables`` over its ``cells``."""
    found: list[Comparison] = []
    for table in tables:
        decided = [d for d in table.derived if d.decide is not None]
        if not decided or table.columns is None:
            continue
        start = len(found)
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
        in_table = found[start:]
        for index, comparison in enumerate(in_table):
            if comparison.spec.family == "table":
                found[start + index] = replace(comparison, family_size=len(in_table))
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
