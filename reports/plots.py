"""Figures drawn from stored records, as PNG bytes (matplotlib's Agg canvas, no display)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from registry.cell import Cell, varying_keys
from registry.run import CellRecord
from reports.formatting import is_accuracy, metric_label
from reports.tables import cell_label

MAX_PANELS = 3


def gradient_norm_plot(
    cells: Sequence[Cell], records: Mapping[str, CellRecord], title: str
) -> bytes | None:
    """Gradient norm by layer depth, one line per cell and one panel per recorded step.

    ``None`` when no record of ``cells`` holds ``grad_norms`` probe results.
    """
    series: list[tuple[str, dict[str, Any]]] = []
    keys = varying_keys(cells)
    for cell in cells:
        record = records.get(cell.id)
        data = record.probes.get("grad_norms") if record is not None else None
        if data and data.get("steps"):
            series.append((cell_label(cell, keys) or cell.model.name, data["steps"]))
    if not series:
        return None
    steps = sorted({step for _, observed in series for step in observed}, key=int)[:MAX_PANELS]
    figure = Figure(figsize=(5 * len(steps), 4), layout="constrained")
    figure.suptitle(title)
    axes = figure.subplots(1, len(steps), squeeze=False)[0]
    for axis, step in zip(axes, steps, strict=True):
        for label, observed in series:
            norms = observed.get(step)
            if norms:
                axis.plot(range(1, len(norms) + 1), [n for _, n in norms], marker=".", label=label)
        axis.set_yscale("log")
        axis.set_title(f"step {step}")
        axis.set_xlabel("layer depth (input to output)")
        axis.set_ylabel("weight-gradient L2 norm")
        axis.grid(True, which="both", alpha=0.3)
    axes[-1].legend(fontsize="small")
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer, metadata={"Software": None})
    return buffer.getvalue()


def curves_plot(
    rows: Sequence[tuple[str, Sequence[Cell]]],
    records: Mapping[str, CellRecord],
    metrics: Sequence[str],
    title: str,
) -> bytes | None:
    """One panel per per-epoch metric, one line per row (its first finished seed)."""
    series = []
    for label, cells in rows:
        for cell in cells:
            record = records.get(cell.id)
            if record is not None and record.status == "ok" and record.epochs:
                series.append((label, record.epochs))
                break
    if not series:
        return None
    figure = Figure(figsize=(4.5 * len(metrics), 3.6), layout="constrained")
    if title:
        figure.suptitle(title)
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    for axis, metric in zip(axes, metrics, strict=True):
        scale = 100.0 if is_accuracy(metric) else 1.0
        for label, epochs in series:
            points = [(e["epoch"], e[metric] * scale) for e in epochs if metric in e]
            if points:
                axis.plot(*zip(*points, strict=True), marker=".", label=label)
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric_label(metric) + (" (%)" if scale != 1.0 else ""))
        axis.grid(True, alpha=0.3)
    axes[0].legend(fontsize="small")
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer, metadata={"Software": None})
    return buffer.getvalue()
