"""What a run leaves, from Python: a results directory's cells, epochs and decisions as pandas
DataFrames, its tables, its report, and an HTML view for Jupyter."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlbench.registry.errors import DlbenchError

if TYPE_CHECKING:
    import pandas

    from dlbench.bench.results.store import ResultStore
    from dlbench.bench.run.runner import RunSummary
    from dlbench.reports.document import Document


@dataclass(frozen=True)
class ResultTable:
    """One table of a report: where it is, and its text.

    :param experiment: the experiment's title.
    :param title: the table's title (empty for an experiment's only table).
    :param headers: the column headers; ``rows`` the cells as the report shows them.
    :param caption: what the table shows and how it was computed.
    :param markdown: the table as report.md has it.
    """

    experiment: str
    title: str
    headers: list[str]
    rows: list[list[str]]
    caption: str
    markdown: str

    def to_frame(self) -> pandas.DataFrame:
        """The table as a pandas DataFrame (its text, as shown)."""
        return _pandas().DataFrame(self.rows, columns=self.headers)

    @property
    def heading(self) -> str:
        """``experiment - title`` (the experiment alone for its only table)."""
        return " - ".join(part for part in (self.experiment, self.title) if part)

    def _repr_markdown_(self) -> str:
        """The table as the report shows it, under its heading and over its caption (Jupyter
        renders it)."""
        return f"**{self.heading}**\n\n{self.markdown}\n\n*{self.caption}*\n"


class Results:
    """A results directory, as ``run`` left it (or any results directory).

    :param path: the results directory.
    :param summary: what the run did (``None`` for a directory opened without running).
    """

    def __init__(self, path: Path | str, summary: RunSummary | None = None) -> None:
        self.path = Path(path)
        self.summary = summary

    def cells(self) -> pandas.DataFrame:
        """One row per cell (``bench export``'s columns) as a pandas DataFrame."""
        from dlbench.bench.results.export import load_results

        return load_results(self.path)

    def epochs(self) -> pandas.DataFrame:
        """One row per cell and epoch as a pandas DataFrame."""
        from dlbench.bench.results.export import load_results

        return load_results(self.path, epochs=True)

    def decisions(self) -> pandas.DataFrame:
        """One row per decided comparison as a pandas DataFrame."""
        from dlbench.bench.results.export import columns, rows

        found = rows([self.path], decisions=True)
        return _pandas().DataFrame(found, columns=columns(found))

    def tables(self) -> list[ResultTable]:
        """Every table of the report, in order."""
        return _tables(self._document())

    def report(self) -> str:
        """The report as markdown (what ``report.md`` holds)."""
        from dlbench.bench.results.report_files import render_stored_report

        return render_stored_report(self._store()).markdown

    def _store(self) -> ResultStore:
        from dlbench.bench.results.store import ResultStore

        if not self.path.is_dir():
            raise DlbenchError(f"{self.path}: not a results directory")
        return ResultStore(self.path)

    def _document(self) -> Document:
        from dlbench.bench.results.report_files import stored_document

        return stored_document(self._store())

    def _repr_html_(self) -> str:
        """The report's summary and tables, for Jupyter."""
        document = self._document()
        parts = [f"<p><b>{html.escape(document.name)}</b>: {html.escape(document.summary)}</p>"]
        for table in _tables(document):
            parts.append(f"<h4>{html.escape(table.heading)}</h4>")
            parts.append(table.to_frame().to_html(index=False, escape=True))
            parts.append(f"<p><i>{html.escape(table.caption)}</i></p>")
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"Results({str(self.path)!r})"


def _tables(document: Document) -> list[ResultTable]:
    """A report document's tables, in order."""
    from dlbench.reports.markdown import render_markdown_table

    return [
        ResultTable(
            section.title,
            table.title,
            table.headers,
            table.rows,
            table.caption,
            render_markdown_table(table),
        )
        for section in document.sections
        for table, _ in section.tables
    ]


def _pandas() -> Any:
    import pandas  # a dependency of dlbench: the API's tables are DataFrames

    return pandas
