"""A report's content, whatever it is rendered as: per experiment its tables and figures, then
the cells that failed, were skipped, are stale, or failed a rerun, and the environment.
Pure: it reads and writes no files."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from matplotlib.figure import Figure as MatplotlibFigure

from dlbench.registry.cell import varying_keys
from dlbench.registry.records import CellRecord
from dlbench.reports.leaderboard import leaderboard_rows
from dlbench.reports.manifest import ExperimentEntry, Manifest
from dlbench.reports.plots import FORMATS, curves_plot, figure_bytes, probe_plot
from dlbench.reports.summary import gathered_environment, outcomes, source_runs
from dlbench.reports.table import RecordView, Table
from dlbench.reports.tables import build_table
from dlbench.reports.tuning_report import best_so_far_plot, scatter_plot, tuning_table

PLOTS = "plots"


@dataclass(frozen=True)
class Figure:
    """A plot: its alt text, and its bytes per format (``plots/<stem>.<format>``)."""

    alt: str
    stem: str
    images: Mapping[str, bytes]

    def path(self, fmt: str) -> str:
        """Its file, relative to the results directory."""
        return f"{PLOTS}/{self.stem}.{fmt}"


@dataclass(frozen=True)
class Note:
    """A cell listed under a heading (failed, skipped, ...), with the reason."""

    experiment: str
    description: str
    reason: str
    cell_id: str | None = None


@dataclass(frozen=True)
class Section:
    """One experiment: its tables (each with its CSV file's stem) and figures."""

    name: str
    title: str
    description: str
    tables: list[tuple[Table, str]] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    failed_figures: list[Note] = field(default_factory=list)


@dataclass(frozen=True)
class Document:
    """Everything a report says.

    :param outcomes: one line per decided comparison: where it stands.
    :param folded: one line per experiment with no table or plot of its own (its cells still
        count, and other experiments' tables may show them).
    :param sources: for a merged report, each source run and a line of its environment.
    """

    name: str
    description: str
    summary: str
    sections: list[Section]
    notes: dict[str, list[Note]]
    environment: Mapping[str, Any]
    outcomes: list[str] = field(default_factory=list)
    folded: list[str] = field(default_factory=list)
    sources: list[tuple[str, str]] = field(default_factory=list)


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


def build_document(
    manifest: Manifest,
    records: Mapping[str, CellRecord],
    failed_reruns: Mapping[str, CellRecord] | None = None,
    formats: tuple[str, ...] = FORMATS,
    first_verdicts: Mapping[str, Mapping[str, Any]] | None = None,
) -> Document:
    """The report of ``records`` as ``manifest`` lays them out.

    :param failed_reruns: cell id -> the failed rerun kept beside its finished record.
    :param formats: image formats for every figure.
    :param first_verdicts: decided comparison key -> the verdict it first reached.
    """
    view = RecordView(records, stale_cells(manifest, records), first_verdicts or {})
    owners = {c.id: (e.name, c) for e in manifest.shown for c in (*e.cells, *e.trials)}
    planned_skips = [s for e in manifest.shown for s in e.skipped]
    statuses = [records[i].status if i in records else "pending" for i in owners]
    summary = (
        f"{len(owners)} cells, {statuses.count('ok')} done, {statuses.count('failed')} failed, "
        f"{statuses.count('pending')} pending, "
        f"{statuses.count('skipped') + len(planned_skips)} skipped"
        + (f", {sum(i in view.stale for i in owners)} stale" if view.stale else "")
    )
    by_name = {e.name: e for e in manifest.experiments}
    sections = [_section(manifest, e, view, by_name, formats) for e in manifest.shown]

    apart = {e.name: varying_keys(e.cells) if e.cells else [] for e in manifest.shown}

    def noted(cell_id: str, reason: str) -> Note:
        experiment, cell = owners[cell_id]
        return Note(experiment, cell.describe(apart[experiment]), reason, cell_id)

    def with_status(status: str) -> list[Note]:
        return [
            noted(i, records[i].error or "")
            for i in owners
            if i in records and records[i].status == status
        ]

    reruns = failed_reruns or {}
    notes = {
        "Failed cells": with_status("failed"),
        "Skipped cells": with_status("skipped")
        + [Note(s.experiment, s.description, s.reason) for s in planned_skips],
        "Stale cells (shown with their earlier result, marked stale)": [
            noted(i, view.stale[i]) for i in owners if i in view.stale
        ],
        "Reruns that failed (the earlier finished result is kept and shown)": [
            noted(i, reruns[i].error or "") for i in owners if i in reruns
        ],
        "Plots that could not be drawn": [
            n for section in sections for n in section.failed_figures
        ],
    }
    shown = [records[i] for i in owners if i in records]
    environment = gathered_environment(shown or list(records.values()))
    folded = [
        f"{section.title} ({section.name}): {len(by_name[section.name].cells)} cell(s), "
        "no table of its own"
        for section in sections
        if not section.tables and not section.figures
    ]
    return Document(
        manifest.name,
        manifest.description,
        summary,
        [section for section in sections if section.tables or section.figures],
        notes,
        environment,
        outcomes=outcomes(manifest, records),
        folded=folded,
        sources=source_runs(shown),
    )


def _section(
    manifest: Manifest,
    experiment: ExperimentEntry,
    view: RecordView,
    experiments: Mapping[str, ExperimentEntry],
    formats: tuple[str, ...],
) -> Section:
    section = Section(experiment.name, experiment.title, experiment.description)
    cells = list(experiment.cells)
    for index, spec in enumerate(experiment.tables, start=1):
        table = build_table(spec, cells, view, experiments)
        if experiment.tune is not None:
            note = f" {experiment.tune.describe().capitalize()}; tables show the final runs only."
            table = replace(table, caption=table.caption + note)
        stem = slug(f"{experiment.name}-{table.title or index}")
        section.tables.append((table, stem))
        if spec.curves:
            rows = leaderboard_rows(spec, experiments)
            _add(
                section,
                partial(curves_plot, rows, view.records, spec.curves, table.title),
                "Training curves",
                f"{stem}-curves",
                formats,
            )
    if experiment.tune is not None:
        _add_tuning(section, experiment, view, formats)
    for probe in experiment.probes:
        plot = manifest.probe_plots.get(probe)
        if plot is not None:
            draw = partial(probe_plot, plot, probe, cells, view.records, experiment.title)
            stem = slug(f"{experiment.name}-{probe.replace('_', '-')}")
            _add(section, draw, plot.title.capitalize(), stem, formats)
    return section


def _add_tuning(
    section: Section,
    experiment: ExperimentEntry,
    view: RecordView,
    formats: tuple[str, ...],
) -> None:
    """A tuned experiment's tuning table, best-so-far curves and scatter plots."""
    stem = slug(f"{experiment.name}-tuning")
    section.tables.append((tuning_table(experiment, view.records), stem))
    draw = partial(best_so_far_plot, experiment, view.records)
    _add(section, draw, "Best validation metric so far, per arm", f"{stem}-best", formats)
    draw = partial(scatter_plot, experiment, view.records)
    _add(
        section, draw, "Validation metric against each tuned parameter", f"{stem}-scatter", formats
    )


def _add(
    section: Section,
    draw: Callable[[], MatplotlibFigure | None],
    alt: str,
    stem: str,
    formats: tuple[str, ...],
) -> None:
    """Draw a figure into ``section``; one that cannot be drawn is listed with the reason and
    the rest of the report is written."""
    try:
        figure = draw()
        if figure is None:
            return
        images = {fmt: figure_bytes(figure, fmt) for fmt in dict.fromkeys(("svg", *formats))}
    except Exception as exc:
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        section.failed_figures.append(Note(section.name, alt, reason))
        return
    section.figures.append(Figure(alt, stem, images))


def slug(text: str) -> str:
    """A file-name-safe form of ``text``: letters, digits, ``_.-``; at most 100 characters."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-").lower()[:100] or "table"
