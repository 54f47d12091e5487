"""Figures drawn from stored records, as PNG bytes (matplotlib's Agg canvas, no display)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from registry.cell import Cell, varying_keys
from registry.run import CellRecord

MAX_PANELS = 3


def cell_label(cell: Cell, keys: Sequence[str]) -> str:
    """What tells ``cell`` apart from the others: ``residual_mlp, depth=8``."""
    parts = []
    for key in keys:
        value = cell.value(key)
        parts.append(str(value) if key.endswith(".name") else f"{key.rpartition('.')[2]}={value}")
    return ", ".join(parts) or cell.model.name


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
            series.append((cell_label(cell, keys), data["steps"]))
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
