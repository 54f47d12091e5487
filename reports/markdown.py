"""The report of a results directory: every table as GitHub markdown (tabulate) and as CSV,
every plot, and the cells that failed, were skipped or are stale. Pure: it reads and writes no
files; :mod:`dlbench.bench.report_files` does."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from matplotlib.figure import Figure
from tabulate import tabulate

from dlbench.registry.records import CellRecord
from dlbench.reports.leaderboard import leaderboard_rows
from dlbench.reports.manifest import ExperimentEntry, Manifest
from dlbench.reports.plots import FORMATS, curves_plot, figure_bytes, probe_plot
from dlbench.reports.table import RecordView, Table
from dlbench.reports.tables import build_table

PLOTS = "plots"


@dataclass(frozen=True)
class Report:
    """A rendered report: the markdown, one CSV per table and the plots, by file name."""

    markdown: str
    csv_files: dict[str, str] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)


def render_markdown_table(table: Table) -> str:
    """One table as GitHub markdown (pipe tables), centred like the lab's tables."""
    return tabulate(
        table.rows,
        headers=table.headers,
        tablefmt="pipe",
        colalign=["center"] * len(table.headers),
        disable_numparse=True,
    )


def render_csv(table: Table) -> str:
    """One table as CSV with raw numbers (accuracies as fractions)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.csv_headers)
    writer.writerows(table.csv_rows)
    return buffer.getvalue()


def stale_cells(manifest: Manifest, records: Mapping[str, CellRecord]) -> dict[str, str]:
    """Cell id -> why its finished record was made by other code than the matrix now names.

    Records from before code fingerprints existed carry none and are taken as they are.
    """
    stale = {}
    for cell_id, current in manifest.code.items():
        record = records.get(cell_id)
        if record is None or record.status != "ok" or not record.code:
            continue
        changed = record.changed_code(current)
        if changed:
            stale[cell_id] = f"code of plugin {', '.join(changed)} changed since it ran"
    return stale


def render_report(
    manifest: Manifest,
    records: Mapping[str, CellRecord],
    failed_reruns: Mapping[str, CellRecord] | None = None,
    formats: tuple[str, ...] = FORMATS,
) -> Report:
    """Every selected experiment's tables and plots, then the cells that failed, were skipped,
    are stale, or failed a rerun while their earlier result was kept.

    :param failed_reruns: cell id -> the failed rerun kept beside its finished record.
    :param formats: image formats for every plot (``png`` first: the markdown links it).
    """
    failed_reruns = failed_reruns or {}
    view = RecordView(records, stale_cells(manifest, records))
    lines = [f"# Results: {manifest.name}", ""]
    if manifest.description:
        lines += [manifest.description.strip(), ""]
    owners = {c.id: (e.name, c) for e in manifest.shown for c in e.cells}
    planned_skips = [s for e in manifest.shown for s in e.skipped]
    statuses = [records[i].status if i in records else "pending" for i in owners]
    lines += [
        f"Matrix `{manifest.source}`: {len(owners)} cells, "
        f"{statuses.count('ok')} done, {statuses.count('failed')} failed, "
        f"{statuses.count('pending')} pending, "
        f"{statuses.count('skipped') + len(planned_skips)} skipped"
        + (f", {sum(i in view.stale for i in owners)} stale" if view.stale else "")
        + ".",
        "",
    ]
    report = Report("")
    by_name = {e.name: e for e in manifest.experiments}
    for experiment in manifest.shown:
        lines += _experiment_section(manifest, experiment, view, by_name, report, formats)

    def listed(cell_id: str, experiment: str, text: str) -> str:
        return f"- `{experiment}` {owners[cell_id][1].describe()} (`{cell_id}`): {text}"

    sections = {
        "Failed cells": [
            listed(i, e, records[i].error or "")
            for i, (e, _) in owners.items()
            if i in records and records[i].status == "failed"
        ],
        "Skipped cells": [
            listed(i, e, records[i].error or "")
            for i, (e, _) in owners.items()
            if i in records and records[i].status == "skipped"
        ]
        + [f"- `{s.experiment}` {s.description}: {s.reason}" for s in planned_skips],
        "Stale cells (shown with their earlier result, marked stale)": [
            listed(i, e, view.stale[i]) for i, (e, _) in owners.items() if i in view.stale
        ],
        "Reruns that failed (the earlier finished result is kept and shown)": [
            listed(i, e, failed_reruns[i].error or "")
            for i, (e, _) in owners.items()
            if i in failed_reruns
        ],
    }
    for heading, entries in sections.items():
        if entries:
            lines += [f"## {heading}", "", *entries, ""]
    return Report("\n".join(lines).rstrip() + "\n", report.csv_files, report.images)


def _experiment_section(
    manifest: Manifest,
    experiment: ExperimentEntry,
    view: RecordView,
    experiments: Mapping[str, ExperimentEntry],
    report: Report,
    formats: tuple[str, ...],
) -> list[str]:
    """An experiment's heading, tables and plots; adds its CSV and image files to ``report``."""
    heading = f"## {experiment.title}"
    if experiment.title != experiment.name:
        heading += f" (`{experiment.name}`)"
    lines = [heading, ""]
    if experiment.description:
        lines += [experiment.description.strip(), ""]
    cells = list(experiment.cells)
    for index, spec in enumerate(experiment.tables, start=1):
        table = build_table(spec, cells, view, experiments)
        if table.title:
            lines += [f"### {table.title}", ""]
        lines += [render_markdown_table(table), "", f"*{table.caption}*", ""]
        stem = slug(f"{experiment.name}-{table.title or index}")
        report.csv_files[f"{stem}.csv"] = render_csv(table)
        if spec.curves:
            rows = leaderboard_rows(spec, experiments)
            figure = curves_plot(rows, view.records, spec.curves, table.title)
            lines += _add_figure(report, f"{stem}-curves", "Training curves", figure, formats)
    for probe in experiment.probes:
        plot = manifest.probe_plots.get(probe)
        if plot is not None:
            figure = probe_plot(plot, probe, cells, view.records, experiment.title)
            stem = slug(f"{experiment.name}-{probe.replace('_', '-')}")
            lines += _add_figure(report, stem, plot.title.capitalize(), figure, formats)
    return lines


def _add_figure(
    report: Report, stem: str, alt: str, figure: Figure | None, formats: tuple[str, ...]
) -> list[str]:
    if figure is None:
        return []
    for fmt in formats:
        report.images[f"{PLOTS}/{stem}.{fmt}"] = figure_bytes(figure, fmt)
    return [f"![{alt}]({PLOTS}/{stem}.{formats[0]})", ""]


def slug(text: str) -> str:
    """A file-name-safe form of ``text``: letters, digits, ``_.-``; at most 100 characters."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-").lower()[:100] or "table"
