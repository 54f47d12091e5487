"""Compare a run with a baseline: every metric's old and new value, its change, and a verdict.

A baseline is the metrics of a results directory's finished cells, or a small JSON file exported
from one (``bench baseline export``); reading them is the host's job
(``dlbench.bench.results.baselines``). Cells are matched by their configuration without plugin
versions, so a new release of dlbench is compared with the last one. Direction matters:
accuracies must not drop and losses and times must not rise by more than the tolerance: the
explicit one, or twice the baseline's spread over seeds where the baseline has several seeds of a
configuration and that is wider.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from scipy import stats

from dlbench.registry.cell import COMPONENT_KINDS, Cell
from dlbench.registry.records import CellRecord
from dlbench.reports.comparability import (
    check_same_concurrency,
    check_same_kernels,
    check_same_machine,
    concurrency,
    machine,
)
from dlbench.reports.formatting import format_value, is_accuracy
from dlbench.stats.tuning import TRIAL_SEED_BASE

FORMAT = "dlbench-baseline/1"
#: Metrics compared by default; times are compared only on request (they depend on the machine).
METRICS = ("val_acc@best", "test_acc@best", "val_loss@best", "train_loss@last")
TIME_METRICS = ("train_seconds",)


#: A comparison whose interval is too wide to tell a regression from none.
UNDECIDED = "UNDECIDED (interval too wide)"


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
    #: Whether a comparison too wide to decide passes the gate (else it fails it).
    allow_undecided: bool = False
    #: Whether metrics trained on another device or instruction set are compared anyway.
    any_machine: bool = False


def is_trial(cell_json: Mapping[str, Any]) -> bool:
    """Whether a stored cell is a tuning trial (never one of the runs a baseline compares)."""
    seed = cell_json.get("seed")
    return isinstance(seed, int) and seed >= TRIAL_SEED_BASE


def finite_number(value: object) -> bool:
    """A number a comparison can use: an int or a float that is finite (not a bool)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def configuration_key(cell_json: Mapping[str, Any], with_seed: bool = True) -> str:
    """A cell's identity without plugin names and versions (and, if asked, without its seed)."""
    stripped: dict[str, Any] = {
        kind: {"name": cell_json[kind]["name"], "params": cell_json[kind]["params"]}
        for kind in COMPONENT_KINDS
    }
    if "vary" in cell_json:
        # What the seed varies sets runs apart as much as a parameter does (written only when
        # it differs from the default, so that keys of earlier baselines stay the same).
        stripped["vary"] = sorted(cell_json["vary"])
    if with_seed:
        stripped["seed"] = cell_json["seed"]
    return hashlib.sha256(json.dumps(stripped, sort_keys=True).encode()).hexdigest()[:16]


def baseline_cells(
    records: Iterable[CellRecord], metrics: tuple[str, ...] = METRICS + TIME_METRICS
) -> dict[str, Any]:
    """The finished records' metrics, keyed by ``configuration_key``: a baseline's cells."""
    cells: dict[str, Any] = {}
    for record in records:
        if record.status != "ok" or is_trial(record.cell):
            continue
        values = {m: record.final[m] for m in metrics if m in record.final}
        key = configuration_key(record.cell)
        group = configuration_key(record.cell, with_seed=False)
        cell = Cell.from_json(record.cell)
        varies = f", varying {'/'.join(sorted(cell.vary))}" if "vary" in record.cell else ""
        cells[key] = {
            "cell": f"{cell.describe()}{varies} ({key[:8]})",
            "configuration": f"{cell.describe().rpartition(', seed ')[0]}{varies} ({group[:8]})",
            "group": group,
            "metrics": values,
            "concurrency": concurrency(record.environment),
            "machine": machine(record.environment),
        }
    return cells


@dataclass(frozen=True)
class Comparison:
    """One metric of one configuration on both sides."""

    label: str
    metric: str
    old: list[float]
    new: list[float]


def compare(
    current: Mapping[str, Any],
    baseline: Mapping[str, Any],
    tolerance: Tolerance,
    with_time: bool = False,
) -> tuple[list[list[str]], int]:
    """Rows of (configuration, metric, baseline, now, change, verdict) and the number of
    failures of the gate: regressions, values that are not finite numbers, configurations of the
    baseline missing now, and (unless ``tolerance.allow_undecided``) comparisons whose interval
    is too wide to decide. Configurations new in the run are listed after the others.

    :param current: the run's cells as ``baseline_cells`` gives them.
    :param baseline: a baseline (``{"cells": ...}``).
    """
    metrics = METRICS + (TIME_METRICS if with_time else ())
    if with_time:
        check_same_concurrency(current, baseline)
        check_same_machine(current, baseline)
    if not tolerance.any_machine:
        check_same_kernels(current, baseline)
    old_groups, new_groups = _groups(baseline["cells"]), _groups(current)
    rows: list[list[str]] = []
    failures = 0
    for group, (label, old) in old_groups.items():
        if group not in new_groups:
            rows.append([label, "", "", "", "", "MISSING (not in this run)"])
            failures += 1
            continue
        new = new_groups[group][1]
        for metric in metrics:
            before = [cell["metrics"][metric] for cell in old if metric in cell["metrics"]]
            after = [cell["metrics"][metric] for cell in new if metric in cell["metrics"]]
            if not (before and after):
                continue
            bad = _not_numbers(old, new, metric)
            if bad:
                rows.append([label, metric, "", "", "", f"INVALID: {bad}"])
                failures += 1
                continue
            row = _row(Comparison(label, metric, before, after), tolerance)
            failures += row[-1] == "REGRESSION" or (
                row[-1] == UNDECIDED and not tolerance.allow_undecided
            )
            rows.append(row)
    rows += [[label, "", "", "", "", "NEW (not in the baseline)"]
             for group, (label, _) in new_groups.items() if group not in old_groups]  # fmt: skip
    return rows, failures


def _not_numbers(old: list[Mapping[str, Any]], new: list[Mapping[str, Any]], metric: str) -> str:
    """Which side's run holds a value of ``metric`` that is not a finite number, or empty."""
    for side, cells in (("baseline", old), ("run", new)):
        for cell in cells:
            value = cell["metrics"][metric]
            if not finite_number(value):
                shown = str(value)[:40]
                return f"{metric} of {cell['cell']} in the {side} is {shown!r}, not a finite number"
    return ""


def _groups(cells: Mapping[str, Any]) -> dict[str, tuple[str, list[Mapping[str, Any]]]]:
    """Configuration -> (its label, its runs' cells)."""
    found: dict[str, tuple[str, list[Mapping[str, Any]]]] = {}
    for key, cell in cells.items():
        group = cell.get("group") or key
        label = cell.get("configuration") or cell["cell"]
        found.setdefault(group, (label, []))[1].append(cell)
    return found


def _row(comparison: Comparison, tolerance: Tolerance) -> list[str]:
    name = comparison.metric.partition("@")[0]
    old, new = comparison.old, comparison.new
    change = statistics.fmean(new) - statistics.fmean(old)
    interval = None
    if len(old) > 1 and len(new) > 1:
        interval = _welch_interval(old, new, change)
    spread = statistics.stdev(old) if len(old) > 1 else 0.0
    verdict = _verdict(
        comparison.metric, change, interval, tolerance, 2 * spread, statistics.fmean(old)
    )
    change_text = format_value(name, change, signed=True)
    if interval is not None:
        ends = ", ".join(format_value(name, v, signed=True) for v in interval)
        change_text += f" [{ends}]"
    return [
        comparison.label,
        comparison.metric,
        _side(name, old),
        _side(name, new),
        change_text,
        verdict,
    ]


def _welch_interval(
    old: list[float], new: list[float], change: float
) -> tuple[float, float] | None:
    """The 95% Welch interval of ``mean(new) - mean(old)``; the change itself where neither
    side varies (identical runs: a parameter count, say)."""
    if len(set(old)) == 1 and len(set(new)) == 1:
        return change, change
    with warnings.catch_warnings():
        # scipy warns of lost precision when the runs are nearly identical; the interval is
        # then narrow, which is what it should say.
        warnings.simplefilter("ignore", RuntimeWarning)
        found = stats.ttest_ind(new, old, equal_var=False).confidence_interval(0.95)
    if math.isfinite(found.low) and math.isfinite(found.high):
        return float(found.low), float(found.high)
    return None


def _side(name: str, values: list[float]) -> str:
    return f"{format_value(name, statistics.fmean(values))} (n={len(values)})"


def seed_spread(cells: Mapping[str, Any]) -> dict[tuple[str, str], float]:
    """Standard deviation of each metric over the seeds of each configuration in a baseline."""
    by_group: dict[tuple[str, str], list[float]] = {}
    for cell in cells.values():
        for metric, value in cell["metrics"].items():
            by_group.setdefault((cell.get("group", ""), metric), []).append(value)
    return {key: statistics.stdev(v) for key, v in by_group.items() if len(v) > 1}


def _verdict(
    metric: str,
    change: float,
    interval: tuple[float, float] | None,
    tolerance: Tolerance,
    noise: float = 0.0,
    before: float | None = None,
) -> str:
    """``REGRESSION``, ``better``, ``within noise`` or ``ok`` for a change of ``change``.

    :param interval: the change's 95% interval where both sides have several runs; a change
        whose interval holds zero is never a regression.
    :param noise: twice the baseline's spread over its runs, which widens the tolerance when
        there is no interval.
    """
    name = metric.partition("@")[0]
    if is_accuracy(name):
        worse, allowed = -change, tolerance.accuracy
    elif name in TIME_METRICS:
        worse, allowed = change, tolerance.time * (before or 0.0)
    else:
        worse, allowed = change, tolerance.loss
    if interval is None:
        allowed = max(allowed, noise)
        significant = True
    else:
        significant = interval[0] > 0 or interval[1] < 0
        # The worst change the interval allows, in the "worse" direction.
        worst = -interval[0] if is_accuracy(name) else interval[1]
        if not significant and worst > allowed:
            return UNDECIDED
    if abs(worse) <= allowed:
        return "ok"
    if not significant:
        return "within noise"
    return "REGRESSION" if worse > 0 else "better"
