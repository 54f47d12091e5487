"""Equal tuning budgets: what an experiment's ``tune`` block declares (``TuneSpec``), and
what its stored trials say (``best_trial``, ``best_so_far``), which the tuning planner
acts on and the reports show. Pure: no sampler here (the planner asks Optuna for proposals).

Every arm (one configuration of the experiment's other axes) gets the same number of trials over
the same search space; a trial is one run with its own seed, drawn from
``TRIAL_SEED_BASE`` up, so that no trial is ever one of the final runs (seeds ``0, 1, ...``)
whose test metrics the tables show. A failed or diverged trial counts against the budget.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dlbench.registry.cell import Cell
from dlbench.registry.records import CellRecord, metric_value

#: Trials run with seeds from here up; final runs with seeds from 0.
TRIAL_SEED_BASE = 1_000_000
DISTRIBUTIONS = ("log_uniform", "uniform", "int", "choice")
SAMPLERS = ("random", "quasi_random", "tpe")


@dataclass(frozen=True)
class SearchDimension:
    """One tuned parameter: ``key`` (``strategy.lr``), its ``distribution`` and its ``values``
    (``[low, high]``, or the choices)."""

    key: str
    distribution: str
    values: tuple[bool | int | float | str, ...]

    @property
    def log(self) -> bool:
        """Whether its axis reads best on a log scale."""
        return self.distribution == "log_uniform"


@dataclass(frozen=True)
class TuneSpec:
    """How an experiment's arms are tuned before their final runs.

    :param space: the tuned parameters.
    :param trials: trials per arm (the budget).
    :param sampler: ``random``, ``quasi_random`` (scrambled Sobol) or ``tpe``.
    :param metric: the validation metric a trial is judged by, read at ``at``.
    :param maximize: whether larger is better.
    :param seed: the study's seed: the same seed proposes the same trials.
    :param wave: trials proposed at once (a fixed number, so the proposals do not depend on how
        many cells run in parallel).
    :param final_runs: final runs of each arm with its best trial's parameters (when no table
        decides a comparison, which then plans them).
    """

    space: tuple[SearchDimension, ...]
    trials: int = 8
    sampler: str = "tpe"
    metric: str = "val_acc"
    at: str = "best"
    maximize: bool = True
    seed: int = 0
    wave: int = 4
    final_runs: int = 3

    def describe(self) -> str:
        """``tuned: 8 trials each on validation accuracy (tpe, seed 0)``."""
        keys = ", ".join(d.key for d in self.space)
        return (
            f"tuned: {self.trials} trials each of {keys} on {self.metric}@{self.at} "
            f"({self.sampler}, seed {self.seed})"
        )


def trial_value(record: CellRecord | None, spec: TuneSpec) -> float | None:
    """A trial's validation metric, ``None`` when it failed (or lacks the metric, or is not
    finite: a diverged run counts against the budget)."""
    if record is None or record.status != "ok":
        return None
    value = metric_value(record, spec.metric, spec.at)
    return value if value is not None and math.isfinite(value) else None


def best_trial(
    trials: Sequence[Cell], records: Mapping[str, CellRecord], spec: TuneSpec
) -> Cell | None:
    """The trial with the best validation metric (the earliest among equals), or ``None``
    when none finished."""
    best: tuple[float, Cell] | None = None
    for cell in trials:
        value = trial_value(records.get(cell.id), spec)
        if value is None:
            continue
        score = value if spec.maximize else -value
        if best is None or score > best[0]:
            best = (score, cell)
    return best[1] if best else None


def best_so_far(
    trials: Sequence[Cell], records: Mapping[str, CellRecord], spec: TuneSpec
) -> list[float | None]:
    """After each trial (in order), the best validation metric seen so far."""
    found: list[float | None] = []
    current: float | None = None
    for cell in trials:
        value = trial_value(records.get(cell.id), spec)
        if value is not None and (
            current is None or (value > current if spec.maximize else value < current)
        ):
            current = value
        found.append(current)
    return found


def tuned_values(cell: Cell, spec: TuneSpec) -> dict[str, object]:
    """The tuned parameters' values in ``cell``."""
    return {d.key: cell.value(d.key) for d in spec.space}
