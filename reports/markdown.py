"""The report as GitHub markdown (tabulate) with a CSV per table and the figures' files."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field

from tabulate import tabulate

from dlbench.registry.records import CellRecord
from dlbench.reports.document import Document, build_document
from dlbench.reports.manifest import Manifest
from dlbench.reports.plots import FORMATS
from dlbench.reports.table import Table


@dataclass(frozen=True)
class Report:
    """A rendered report: markdown and HTML, one CSV per table and the plots, by file name."""

    markdown: str
    html: str = ""
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


def render_document(document: Document, source: str, image_format: str = "png") -> str:
    """``document`` as markdown; figures link their ``image_format`` file."""
    lines = [f"# Results: {document.name}", ""]
    if document.description:
        lines += [document.description.strip(), ""]
    lines += [f"Matrix `{source}`: {document.summary}.", ""]
    for section in document.sections:
        heading = f"## {section.title}"
        if section.title != section.name:
            heading += f" (`{section.name}`)"
        lines += [heading, ""]
        if section.description:
            lines += [section.description.strip(), ""]
        for table, _ in section.tables:
            if table.title:
                lines += [f"### {table.title}", ""]
            lines += [render_markdown_table(table), "", f"*{table.caption}*", ""]
        for figure in section.figures:
            lines += [f"![{figure.alt}]({figure.path(image_format)})", ""]
    for heading, notes in document.notes.items():
        if notes:
            lines += [f"## {heading}", ""]
            for note in notes:
                cell = f" (`{note.cell_id}`)" if note.cell_id else ""
                lines.append(f"- `{note.experiment}` {note.description}{cell}: {note.reason}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_report(
    manifest: Manifest,
    records: Mapping[str, CellRecord],
    failed_reruns: Mapping[str, CellRecord] | None = None,
    formats: tuple[str, ...] = FORMATS,
) -> Report:
    """Every selected experiment's tables and plots, then the cells that failed, were skipped,
    are stale, or failed a rerun while their earlier result was kept: as markdown, as a
    self-contained HTML page, as CSV files and as image files.

    :param failed_reruns: cell id -> the failed rerun kept beside its finished record.
    :param formats: image formats for every plot (``png`` first: the markdown links it).
    """
    from dlbench.reports.html import render_html

    document = build_document(manifest, records, failed_reruns, formats)
    csv_files = {
        f"{stem}.csv": render_csv(table)
        for section in document.sections
        for table, stem in section.tables
    }
    images = {
        figure.path(fmt): data
        for section in document.sections
        for figure in section.figures
        for fmt, data in figure.images.items()
        if fmt in formats
    }
    markdown = render_document(document, manifest.source, formats[0])
    return Report(markdown, render_html(document, manifest.source), csv_files, images)
