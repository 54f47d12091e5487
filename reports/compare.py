"""Compare a run with a baseline: every metric's old and new value, its change, and a verdict.

A baseline is the metrics of a results directory's finished cells, or a small JSON file exported
from one (``bench baseline export``); reading them is the host's job
(:mod:`dlbench.bench.results.baselines`). Cells are matched by their configuration without plugin
versions, so a new release of dlbench is compared with the last one. Direction matters:
accuracies must not drop and losses and times must not rise by more than the tolerance: the
explicit one, or twice the baseline's spread over seeds where the baseline has several seeds of a
configuration and that is wider.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dlbench.registry.cell import COMPONENT_KINDS, Cell
from dlbench.registry.errors import DlbenchError
from dlbench.registry.records import CellRecord
from dlbench.reports.formatting import format_value, is_accuracy

FORMAT = "dlbench-baseline/1"
#: Metrics compared by default; times are compared only on request (they depend on the machine).
METRICS = ("val_acc@best", "test_acc@best", "val_loss@best", "train_loss@last")
TIME_METRICS = ("train_seconds",)


@dataclass(frozen=True)
class Tolerance:
    """How far a metric may move the wrong way before it is a regression.

    :param accuracy: absolute, as a fraction (0.01 = one percentage point).
    :param loss: absolute.
    :param time: relative (0.5 = 50% slower).
    """

    accuracy: float = 0.01
    loss: float = 0.05
    time: float = 0.5


def configuration_key(cell_json: Mapping[str, Any], with_seed: bool = True) -> str:
    """A cell's identity without plugin names and versions (and, if asked, without its seed)."""
    stripped: dict[str, Any] = {
        kind: {"name": cell_json[kind]["name"], "params": cell_json[kind]["params"]}
        for kind in COMPONENT_KINDS
    }
    if with_seed:
        stripped["seed"] = cell_json["seed"]
    return hashlib.sha256(json.dumps(stripped, sort_keys=True).encode()).hexdigest()[:16]


def baseline_cells(
    records: Iterable[CellRecord], metrics: tuple[str, ...] = METRICS + TIME_METRICS
) -> dict[str, Any]:
    """The finished records' metrics, keyed by :func:`configuration_key`: a baseline's cells."""
    cells: dict[str, Any] = {}
    for record in records:
        if record.status != "ok":
            continue
        values = {
            m: record.final[m] for m in metrics if isinstance(record.final.get(m), (int, float))
        }
        key = configuration_key(record.cell)
        cells[key] = {
            "cell": f"{Cell.from_json(record.cell).describe()} ({key[:8]})",
            "group": configuration_key(record.cell, with_seed=False),
            "metrics": values,
            "concurrency": concurrency(record.environment),
        }
    return cells


def compare(
    current: Mapping[str, Any],
    baseline: Mapping[str, Any],
    tolerance: Tolerance,
    with_time: bool = False,
) -> tuple[list[list[str]], int]:
    """Rows of (cell, metric, old, new, change, verdict) and the number of regressions.

    :param current: the run's cells as :func:`baseline_cells` gives them.
    :param baseline: a baseline (``{"cells": ...}``).
    """
    metrics = METRICS + (TIME_METRICS if with_time else ())
    if with_time:
        _check_same_concurrency(current, baseline)
    spread = seed_spread(baseline["cells"])
    rows: list[list[str]] = []
    regressions = 0
    for key, old in baseline["cells"].items():
        new = current.get(key)
        if new is None:
            rows.append([old["cell"], "", "", "", "", "MISSING"])
            regressions += 1
            continue
        for metric in metrics:
            if metric not in old["metrics"] or metric not in new["metrics"]:
                continue
            before, after = old["metrics"][metric], new["metrics"][metric]
            noise = 2 * spread.get((old.get("group", ""), metric), 0.0)
            verdict = _verdict(metric, before, after, tolerance, noise)
            regressions += verdict == "REGRESSION"
            name = metric.partition("@")[0]
            change = after - before
            rows.append(
                [
                    old["cell"],
                    metric,
                    format_value(name, before),
                    format_value(name, after),
                    format_value(name, change, signed=True),
                    verdict,
                ]
            )
    return rows, regressions


def concurrency(environment: Mapping[str, Any]) -> str:
    """How a record's cell shared the machine: ``jobs=2 threads=1``."""
    return f"jobs={environment.get('jobs', 1)} threads={environment.get('threads', '?')}"


def _check_same_concurrency(current: Mapping[str, Any], baseline: Mapping[str, Any]) -> None:
    """Timings taken under different concurrency do not compare; say so rather than guess."""
    for key, old in baseline["cells"].items():
        new = current.get(key)
        if new is None or "concurrency" not in old or "concurrency" not in new:
            continue
        if old["concurrency"] != new["concurrency"]:
            raise DlbenchError(
                f"--time: {old['cell']} was timed with {old['concurrency']} in the baseline and "
                f"{new['concurrency']} now; timings compare only under the same concurrency "
                "(run with the same --jobs and --threads, or compare without --time)"
            )


def seed_spread(cells: Mapping[str, Any]) -> dict[tuple[str, str], float]:
    """Standard deviation of each metric over the seeds of each configuration in a baseline."""
    by_group: dict[tuple[str, str], list[float]] = {}
    for cell in cells.values():
        for metric, value in cell["metrics"].items():
            by_group.setdefault((cell.get("group", ""), metric), []).append(value)
    return {key: statistics.stdev(v) for key, v in by_group.items() if len(v) > 1}


def _verdict(
    metric: str, before: float, after: float, tolerance: Tolerance, noise: float = 0.0
) -> str:
    """``noise`` (twice the baseline's spread over seeds) widens the explicit tolerance."""
    name = metric.partition("@")[0]
    if is_accuracy(name):
        worse, allowed = before - after, max(tolerance.accuracy, noise)
    elif name in TIME_METRICS:
        worse, allowed = after - before, max(tolerance.time * before, noise)
    else:
        worse, allowed = after - before, max(tolerance.loss, noise)
    if worse > allowed:
        return "REGRESSION"
    return "better" if worse < -allowed else "ok"
