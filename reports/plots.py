"""Figures drawn from stored records (matplotlib's Agg canvas, no display): what probes observed,
and training curves over seeds as mean with a band. Every text that comes from a user (titles,
parameter values in legends, panel names) is drawn as plain text, never parsed as mathtext."""

from __future__ import annotations

import io
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dlbench.registry.cell import Cell, varying_keys
from dlbench.registry.probes import ProbePlot
from dlbench.registry.records import CellRecord
from dlbench.reports.formatting import is_accuracy, metric_label
from dlbench.reports.leaderboard import cell_label

MAX_PANELS = 3
#: Image formats every figure is written in; PDF is added on request.
FORMATS = ("png", "svg")


def figure_bytes(figure: Figure, fmt: str) -> bytes:
    """``figure`` as ``png``, ``svg`` or ``pdf`` bytes, without a timestamp or tool name in the
    metadata, so an unchanged figure is written byte for byte the same."""
    buffer = io.BytesIO()
    metadata: dict[str, Any] = {"png": {"Software": None}, "svg": {"Date": None}}.get(fmt, {})
    if fmt == "pdf":
        metadata = {"CreationDate": None, "Producer": None, "Creator": None}
    FigureCanvasAgg(figure).print_figure(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()


def _panels(result: Any) -> dict[str, list[list[Any]]]:
    """A probe result's panels; ``steps`` is what stored gradient-norm records used to hold."""
    if not isinstance(result, dict):
        return {}
    panels = result.get("panels", result.get("steps"))
    return panels if isinstance(panels, dict) else {}


def probe_plot(
    plot: ProbePlot,
    probe: str,
    cells: Sequence[Cell],
    records: Mapping[str, CellRecord],
    title: str,
) -> Figure | None:
    """One panel per result panel (a step, say), one line per cell, as ``plot`` describes.

    ``None`` when no record of ``cells`` holds results of ``probe``.
    """
    series: list[tuple[str, dict[str, list[list[Any]]]]] = []
    keys = varying_keys(cells)
    for cell in cells:
        record = records.get(cell.id)
        panels = _panels(record.probes.get(probe)) if record is not None else {}
        if panels:
            series.append((cell_label(cell, keys) or cell.model.name, panels))
    if not series:
        return None
    names = sorted({name for _, panels in series for name in panels}, key=_natural)[:MAX_PANELS]
    figure = Figure(figsize=(max(6.5, 5 * len(names)), 4.4), layout="constrained")
    figure.suptitle(f"{title}: {plot.title}", wrap=True, parse_math=False)
    axes = figure.subplots(1, len(names), squeeze=False)[0]
    colours = _colours(len(series))
    for axis, name in zip(axes, names, strict=True):
        for (label, panels), colour in zip(series, colours, strict=True):
            points = panels.get(name) or []
            ys = [y for _, y in points if isinstance(y, (int, float))]
            if ys:
                axis.plot(range(1, len(ys) + 1), ys, marker=".", label=label, color=colour)
        if plot.log_y:
            axis.set_yscale("log")
        axis.set_title(f"{plot.panel_label} {name}".strip(), parse_math=False)
        axis.set_xlabel(plot.x_label)
        axis.set_ylabel(plot.y_label)
        axis.grid(True, which="both", alpha=0.3)
    _legend_below(figure, axes[0])
    return figure


def curves_plot(
    rows: Sequence[tuple[str, Sequence[Cell]]],
    records: Mapping[str, CellRecord],
    metrics: Sequence[str],
    title: str,
) -> Figure | None:
    """One panel per per-epoch metric, one line per row: the mean over its finished seeds, with
    a band of ± one standard deviation where there are several."""
    series = []
    for label, cells in rows:
        runs = [
            record.epochs
            for cell in cells
            if (record := records.get(cell.id)) is not None and record.status == "ok"
        ]
        if runs:
            series.append((label, runs))
    if not series:
        return None
    figure = Figure(figsize=(max(6.5, 4.5 * len(metrics)), 4.0), layout="constrained")
    seeds = max(len(runs) for _, runs in series)
    note = f" (mean over up to {seeds} seeds, band ± one standard deviation)" if seeds > 1 else ""
    if title or note:
        figure.suptitle(f"{title}{note}", wrap=True, parse_math=False)
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    colours = _colours(len(series))
    for axis, metric in zip(axes, metrics, strict=True):
        scale = 100.0 if is_accuracy(metric) else 1.0
        for (label, runs), colour in zip(series, colours, strict=True):
            _mean_with_band(axis, runs, metric, scale, label, colour)
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric_label(metric) + (" (%)" if scale != 1.0 else ""))
        axis.grid(True, alpha=0.3)
    _legend_below(figure, axes[0])
    return figure


def _mean_with_band(
    axis: Any,
    runs: Sequence[Sequence[Mapping[str, float]]],
    metric: str,
    scale: float,
    label: str,
    colour: Any,
) -> None:
    by_epoch: dict[int, list[float]] = {}
    for epochs in runs:
        for entry in epochs:
            if metric in entry and isinstance(entry[metric], (int, float)):
                by_epoch.setdefault(int(entry["epoch"]), []).append(entry[metric] * scale)
    if not by_epoch:
        return
    xs = sorted(by_epoch)
    means = [statistics.fmean(by_epoch[x]) for x in xs]
    axis.plot(xs, means, marker=".", label=label, color=colour)
    if any(len(by_epoch[x]) > 1 for x in xs):
        spread = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in (by_epoch[x] for x in xs)]
        low = [m - s for m, s in zip(means, spread, strict=True)]
        high = [m + s for m, s in zip(means, spread, strict=True)]
        axis.fill_between(xs, low, high, color=colour, alpha=0.2, linewidth=0)


def _colours(count: int) -> list[Any]:
    from matplotlib import colormaps

    # tab10 for up to ten lines, then evenly spaced hues so no two lines share a colour.
    if count <= 10:
        return [colormaps["tab10"](i) for i in range(count)]
    return [colormaps["turbo"](i / max(count - 1, 1)) for i in range(count)]


def _legend_below(figure: Figure, axis: Any) -> None:
    handles, labels = axis.get_legend_handles_labels()
    if handles:
        # As many columns as fit the figure's width at the longest label.
        width = figure.get_figwidth() * 72 / 6  # characters of small text across the figure
        longest = max(len(label) + 4 for label in labels)
        columns = max(1, min(len(labels), 3, int(width // longest)))
        legend = figure.legend(
            handles,
            labels,
            loc="outside lower center",
            ncols=columns,
            fontsize="small",
            frameon=False,
        )
        # Labels are parameter values: text, never mathtext (a `$` in a name must not parse).
        for text in legend.get_texts():
            text.set_parse_math(False)


def _natural(name: str) -> tuple[int, Any]:
    return (0, int(name)) if name.isdigit() else (1, name)
