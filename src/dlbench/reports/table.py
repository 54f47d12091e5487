"""A rendered table and what every kind of table shares: reading a metric from a record, and
saying why a cell shows no number (failed, skipped, not run) or a flagged one (stale)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dlbench.registry.records import CellRecord

MISSING = "—"
FAILED = "failed"
SKIPPED = "skipped"
#: Put after a number whose record was made by other code than the matrix now names.
STALE_MARK = " (stale)"


@dataclass(frozen=True)
class Table:
    """A table ready to render: formatted text for markdown, numbers for CSV.

    :param csv_headers: the CSV's columns: one row per table cell with its mean, standard
        deviation, n and one column per seed.
    :param values: the number behind each text cell of ``rows`` (``None`` where there is
        none), for sorting; empty when the rows' text is all there is.
    """

    title: str
    caption: str
    headers: list[str]
    rows: list[list[str]]
    csv_headers: list[str]
    csv_rows: list[list[Any]]
    values: list[list[Any]] = field(default_factory=list)


@dataclass(frozen=True)
class RecordView:
    """The stored records a report draws from, with the reason each stale one is stale.

    :param stale: cell id -> why its stored record no longer matches the code that would run it.
    :param first_verdicts: decided comparison key -> the verdict it first reached
        (``{"verdict": ..., "n": ...}``), to mark one that failed runs retried since revised.
    """

    records: Mapping[str, CellRecord]
    stale: Mapping[str, str]
    first_verdicts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def finished(self, cell_id: str) -> CellRecord | None:
        """The cell's record if it finished (``ok``)."""
        record = self.records.get(cell_id)
        return record if record is not None and record.status == "ok" else None

    def absence(self, cell_ids: Iterable[str]) -> str:
        """What a table shows for cells with no finished record: failed, skipped, or a dash."""
        outcomes = {r.status for i in cell_ids if (r := self.records.get(i)) is not None}
        if "failed" in outcomes:
            return FAILED
        if "skipped" in outcomes:
            return SKIPPED
        return MISSING

    def mark(self, cell_ids: Iterable[str]) -> str:
        """``STALE_MARK`` when any of these cells' numbers is stale, else nothing."""
        return STALE_MARK if any(i in self.stale for i in cell_ids) else ""


def default_row_label(key: str) -> str:
    """``model.depth`` -> ``Depth``; ``model.name`` -> ``Model``."""
    section, _, param = key.partition(".")
    text = section if param in ("", "name") else param
    return text.replace("_", " ").capitalize()


def ordered(values: Iterable[str]) -> list[str]:
    """``values`` without repeats, in first-seen order."""
    return list(dict.fromkeys(values))
