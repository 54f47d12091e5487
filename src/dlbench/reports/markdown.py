"""The report as GitHub markdown (tabulate) with a CSV per table and the figures' files.

Every value that comes from a user (parameter values, titles, descriptions, failure reasons) is
written as text: folded onto one line, its markdown punctuation and table pipes escaped, HTML
escaped, so that no value can add a column, a row, a link or markup to the report."""

from __future__ import annotations

import csv
import io
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tabulate import tabulate

from dlbench.registry.records import CellRecord
from dlbench.reports.document import Document, build_document
from dlbench.reports.manifest import Manifest
from dlbench.reports.plots import FORMATS
from dlbench.reports.table import Table

#: Markdown punctuation that could start markup anywhere in a line (``_`` only at a word's edge,
#: where it can start emphasis).
_PUNCTUATION = re.compile(r"([\\`*\[\]|~$]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
#: What starts a block (heading, quote, list, rule) when it begins a line: the number of an
#: ordered item keeps its digits, its punctuation is escaped.
_BLOCK_START = re.compile(r"^(\d*)(#|>|(?<=\d)[.)](?=\s|$)|(?<!\d)[-+=](?=\s|$))")


def md_text(value: object) -> str:
    """``value`` as markdown that renders as exactly its text, on one line (inside a line: a
    table cell, a heading, a list item)."""
    folded = " ".join(str(value).split())
    # `<` and `&` are all a tag or an entity can start with; a `>` inside a line is only text.
    escaped = _PUNCTUATION.sub(r"\\\1", folded)
    return escaped.replace("&", "&amp;").replace("<", "&lt;")


def md_paragraph(value: object) -> str:
    """``value`` as a paragraph of its text: ``md_text``, and what would start a block at
    the line's start (``# heading``, ``- item``, ``1. item``, ``> quote``) escaped."""
    return _BLOCK_START.sub(r"\1\\\2", md_text(value))


def md_code(value: object) -> str:
    """``value`` as a markdown code span on one line, whatever backticks it holds."""
    folded = " ".join(str(value).split())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", folded)), default=0) + 1)
    pad = " " if folded.startswith("`") or folded.endswith("`") else ""
    return f"{fence}{pad}{folded}{pad}{fence}"


@dataclass(frozen=True)
class Report:
    """A rendered report: markdown and HTML, one CSV per table and the plots, by file name."""

    markdown: str
    html: str = ""
    csv_files: dict[str, str] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)


def render_rows(
    rows: Sequence[Sequence[Any]],
    headers: Sequence[str],
    *,
    tablefmt: str = "pipe",
    colalign: Sequence[str] | None = None,
    maxcolwidths: Sequence[int | None] | None = None,
) -> str:
    """Rows of text as a table (tabulate), every cell shown as given: text such as ``False`` or
    ``1e-3`` is never re-read as a number or a boolean.

    :param maxcolwidths: wrap each column's text at this width (``None``: no wrapping).
    """
    widths = list(maxcolwidths or [])
    # Wrapped here: tabulate's own wrapping re-reads "False" as a boolean and prints True.
    text = [
        [
            textwrap.fill(str(value), width)
            if index < len(widths) and (width := widths[index])
            else str(value)
            for index, value in enumerate(row)
        ]
        for row in rows
    ]
    return tabulate(
        text,
        headers=list(headers),
        tablefmt=tablefmt,
        colalign=list(colalign) if colalign is not None else None,
        disable_numparse=True,
    )


def render_markdown_table(table: Table) -> str:
    """One table as GitHub markdown (pipe tables), centred like the lab's tables; every cell
    is text (``md_text``)."""
    return render_rows(
        [[md_text(value) for value in row] for row in table.rows],
        [md_text(header) for header in table.headers],
        colalign=["center"] * len(table.headers),
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
    lines = [f"# Results: {md_text(document.name)}", ""]
    if document.description:
        lines += [md_paragraph(document.description), ""]
    lines += [f"Matrix {md_code(source)}: {md_text(document.summary)}.", ""]
    lines += _overview(document)
    for section in document.sections:
        heading = f"## {md_text(section.title)}"
        if section.title != section.name:
            heading += f" ({md_code(section.name)})"
        lines += [heading, ""]
        if section.description:
            lines += [md_paragraph(section.description), ""]
        for table, _ in section.tables:
            if table.title:
                lines += [f"### {md_text(table.title)}", ""]
            lines += [render_markdown_table(table), "", f"*{md_text(table.caption)}*", ""]
        for figure in section.figures:
            lines += [f"![{md_text(figure.alt)}]({figure.path(image_format)})", ""]
    for heading, notes in document.notes.items():
        if notes:
            lines += [f"## {heading}", ""]
            for note in notes:
                cell = f" ({md_code(note.cell_id)})" if note.cell_id else ""
                lines.append(
                    f"- {md_code(note.experiment)} {md_text(note.description)}{cell}: "
                    f"{md_text(note.reason)}"
                )
            lines.append("")
    problems = [
        *(f"left out: {line}" for line in document.environment.get("plugin_problems") or ()),
        *(f"failed: {line}" for line in document.environment.get("observer_failures") or ()),
    ]
    if problems:
        lines += ["## Plugins left out or failing", ""]
        lines += [f"- {md_text(line)}" for line in problems] + [""]
    return "\n".join(lines).rstrip() + "\n"


def _overview(document: Document) -> list[str]:
    """Contents, each decided comparison's outcome, what has no table, the source runs."""
    entries = [_heading_text(s.title, s.name) for s in document.sections]
    entries += [heading for heading, notes in document.notes.items() if notes]
    lines = []
    if len(entries) > 1:
        links = " · ".join(f"[{md_text(text)}](#{github_slug(text)})" for text in entries)
        lines += [f"**Contents:** {links}", ""]
    if document.outcomes:
        lines += ["**Outcomes:**", ""] + [f"- {md_text(line)}" for line in document.outcomes] + [""]
    if document.folded:
        lines += [
            "**Run for other experiments' tables:** " + md_text("; ".join(document.folded)),
            "",
        ]
    if document.sources:
        lines += ["**Merged from:**", ""]
        lines += [f"- {md_code(path)}: {md_text(line)}" for path, line in document.sources] + [""]
    return lines


def _heading_text(title: str, name: str) -> str:
    return title if title == name else f"{title} ({name})"


def github_slug(text: str) -> str:
    """The anchor GitHub (and most markdown renderers) give a heading of this text."""
    kept = re.sub(r"[^\w\- ]", "", " ".join(text.split()).lower())
    return kept.replace(" ", "-")


def render_report(
    manifest: Manifest,
    records: Mapping[str, CellRecord],
    failed_reruns: Mapping[str, CellRecord] | None = None,
    formats: tuple[str, ...] = FORMATS,
    first_verdicts: Mapping[str, Mapping[str, Any]] | None = None,
) -> Report:
    """Every selected experiment's tables and plots, then the cells that failed, were skipped,
    are stale, or failed a rerun while their earlier result was kept: as markdown, as a
    self-contained HTML page, as CSV files and as image files.

    :param failed_reruns: cell id -> the failed rerun kept beside its finished record.
    :param formats: image formats for every plot (``png`` first: the markdown links it).
    :param first_verdicts: decided comparison key -> the verdict it first reached (a changed
        one is marked revised).
    """
    from dlbench.reports.html import render_html

    document = build_document(manifest, records, failed_reruns, formats, first_verdicts)
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
