"""What a tuned experiment's report shows: per arm its budget, failures, best validation metric
and chosen parameters (a table), the best-so-far curve of each arm, and the validation metric
against each tuned parameter (scatter plots). Test metrics are never read from trials."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dlbench.registry.cell import Cell
from dlbench.registry.records import CellRecord
from dlbench.reports.formatting import format_value, metric_label
from dlbench.reports.manifest import ExperimentEntry
from dlbench.reports.table import Table
from dlbench.stats.tuning import (
    TRIAL_SEED_BASE,
    TuneSpec,
    best_so_far,
    best_trial,
    trial_value,
    tuned_values,
)


def arms(experiment: ExperimentEntry) -> dict[str, list[Cell]]:
    """Arm label -> its trials in order; an arm is its trials' configuration without the tuned
    parameters."""
    spec = experiment.tune
    assert spec is not None
    found: dict[str, list[Cell]] = {}
    for cell in experiment.trials:
        found.setdefault(arm_label(cell, spec), []).append(cell)
    return found


def arm_label(cell: Cell, spec: TuneSpec) -> str:
    """``residual_mlp(depth=8, hidden=128) on digits by plain`` without the tuned values."""
    tuned = {d.key.partition(".")[2] for d in spec.space if d.key.startswith("model.")}
    params = ", ".join(f"{k}={v}" for k, v in sorted(cell.model.params.items()) if k not in tuned)
    return f"{cell.model.name}({params}) on {cell.dataset.name} by {cell.strategy.name}"


def tuning_table(experiment: ExperimentEntry, records: Mapping[str, CellRecord]) -> Table:
    """One row per arm: trials stored (failed), best validation metric, chosen parameters."""
    spec = experiment.tune
    assert spec is not None
    label = metric_label(spec.metric)
    headers = ["Arm", "Trials", "Failed", f"Best {label.lower()} ({spec.at})", "Chosen"]
    rows, csv_rows = [], []
    for name, trials in arms(experiment).items():
        stored = [cell for cell in trials if cell.id in records]
        failed = [cell for cell in stored if trial_value(records[cell.id], spec) is None]
        best = best_trial(trials, records, spec)
        value = trial_value(records.get(best.id), spec) if best is not None else None
        chosen = tuned_values(best, spec) if best is not None else {}
        text = ", ".join(f"{k.partition('.')[2]}={_number(v)}" for k, v in chosen.items())
        rows.append(
            [
                name,
                f"{len(stored)} of {spec.trials}",
                str(len(failed)),
                format_value(spec.metric, value) if value is not None else "—",
                text or "—",
            ]
        )
        csv_rows.append([name, len(stored), len(failed), value if value is not None else "", text])
    caption = (
        f"{spec.describe()}; every arm gets the same budget, a failed or diverged trial counts "
        "against it; the chosen parameters are the best trial's on validation, and the tables "
        "above show only the final runs made with them."
    )
    return Table(
        "Tuning", caption, headers, rows, ["arm", "trials", "failed", "best", "chosen"], csv_rows
    )


def _number(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def best_so_far_plot(
    experiment: ExperimentEntry, records: Mapping[str, CellRecord]
) -> Figure | None:
    """Each arm's best validation metric after each trial."""
    spec = experiment.tune
    assert spec is not None
    figure = Figure(figsize=(6.5, 4.0), layout="constrained")
    axis = figure.subplots()
    drawn = False
    for name, trials in arms(experiment).items():
        curve = best_so_far(trials, records, spec)
        points = [(i + 1, v) for i, v in enumerate(curve) if v is not None]
        if points:
            xs, ys = zip(*points, strict=True)
            axis.step(xs, [_scaled(spec, y) for y in ys], where="post", marker=".", label=name)
            drawn = True
    if not drawn:
        return None
    axis.set_xlabel("trial")
    axis.set_ylabel(f"best {metric_label(spec.metric).lower()} so far{_unit(spec)}")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.grid(True, alpha=0.3)
    _legend(figure, axis)
    return figure


def scatter_plot(experiment: ExperimentEntry, records: Mapping[str, CellRecord]) -> Figure | None:
    """The validation metric of every finished trial against each tuned parameter."""
    spec = experiment.tune
    assert spec is not None
    figure = Figure(figsize=(max(6.5, 4.5 * len(spec.space)), 4.0), layout="constrained")
    axes = figure.subplots(1, len(spec.space), squeeze=False)[0]
    drawn = False
    for axis, dimension in zip(axes, spec.space, strict=True):
        for name, trials in arms(experiment).items():
            points = _points(trials, records, spec, dimension.key)
            if points:
                xs, ys = zip(*points, strict=True)
                axis.scatter(xs, [_scaled(spec, y) for y in ys], label=name, alpha=0.8)
                drawn = True
        if dimension.log:
            axis.set_xscale("log")
        axis.set_xlabel(dimension.key)
        axis.set_ylabel(f"{metric_label(spec.metric).lower()}{_unit(spec)}")
        axis.grid(True, alpha=0.3)
    if not drawn:
        return None
    _legend(figure, axes[0])
    return figure


def _points(
    trials: Sequence[Cell], records: Mapping[str, CellRecord], spec: TuneSpec, key: str
) -> list[tuple[object, float]]:
    found = []
    for cell in trials:
        value = trial_value(records.get(cell.id), spec)
        if value is not None and cell.seed >= TRIAL_SEED_BASE:
            found.append((cell.value(key), value))
    return found


def _scaled(spec: TuneSpec, value: float) -> float:
    return value * 100 if spec.metric.endswith("_acc") and math.isfinite(value) else value


def _unit(spec: TuneSpec) -> str:
    return " (%)" if spec.metric.endswith("_acc") else ""


def _legend(figure: Figure, axis: Any) -> None:
    handles, labels = axis.get_legend_handles_labels()
    if handles:
        legend = figure.legend(
            handles, labels, loc="outside lower center", fontsize="small", frameon=False
        )
        for text in legend.get_texts():
            text.set_parse_math(False)
