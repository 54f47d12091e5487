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
from matplotlib.ticker import MaxNLocator

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
    _legend_below(figure, axes)
    return figure


def curves_plot(
    rows: Sequence[tuple[str, Sequence[Cell]]],
    records: Mapping[str, CellRecord],
    metrics: Sequence[str],
    title: str,
) -> Figure | None:
    """One panel per per-epoch metric, one line per row: the mean over its finished seeds, with
    a band of ± one standard deviation where there are several. A training objective is drawn
    per strategy when rows train with different ones (a distillation loss is not on the
    cross-entropy axis); epochs are whole numbers."""
    series = []
    for label, cells in rows:
        runs = [
            record.epochs
            for cell in cells
            if (record := records.get(cell.id)) is not None and record.status == "ok"
        ]
        if runs:
            series.append((label, cells[0].strategy.name, runs))
    if not series:
        return None
    panels = _panels_of(metrics, [strategy for _, strategy, _ in series])
    figure = Figure(figsize=(max(6.5, 4.5 * len(panels)), 4.0), layout="constrained")
    seeds = max(len(runs) for _, _, runs in series)
    note = f" (mean over up to {seeds} seeds, band ± one standard deviation)" if seeds > 1 else ""
    if title or note:
        figure.suptitle(f"{title}{note}", wrap=True, parse_math=False)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    colours = dict(zip([label for label, _, _ in series], _colours(len(series)), strict=True))
    for axis, (metric, strategy) in zip(axes, panels, strict=True):
        scale = 100.0 if is_accuracy(metric) else 1.0
        for label, own, runs in series:
            if strategy is None or own == strategy:
                _mean_with_band(axis, runs, metric, scale, label, colours[label])
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        unit = " (%)" if scale != 1.0 else ""
        axis.set_ylabel(metric_label(metric) + unit)
        if strategy is not None:
            axis.set_title(f"{metric_label(metric)}: {strategy}", parse_math=False)
        axis.grid(True, alpha=0.3)
    _legend_below(figure, axes)
    return figure


#: Per-epoch metrics that are a strategy's training objective: not comparable across strategies.
OBJECTIVES = ("train_loss",)


def _panels_of(metrics: Sequence[str], strategies: Sequence[str]) -> list[tuple[str, str | None]]:
    """(metric, strategy or None for every row) per panel: a training objective gets a panel per
    strategy when the rows train with several."""
    distinct = list(dict.fromkeys(strategies))
    panels: list[tuple[str, str | None]] = []
    for metric in metrics:
        if metric in OBJECTIVES and len(distinct) > 1:
            panels += [(metric, strategy) for strategy in distinct]
        else:
            panels.append((metric, None))
    return panels


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


def _legend_below(figure: Figure, axes: Any) -> None:
    """One legend below the panels, for every line any panel draws."""
    found: dict[str, Any] = {}
    for axis in axes:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            found.setdefault(label, handle)
    handles, labels = list(found.values()), list(found)
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
