"""The report of a results directory: every table as GitHub markdown (tabulate) and as CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tabulate import tabulate

from bench.store import ResultStore, write_atomic
from bench.table_spec import TableSpec
from registry.cell import Cell
from registry.run import CellRecord
from reports.tables import Table, build_table

REPORT = "report.md"


@dataclass(frozen=True)
class Report:
    """A rendered report: the markdown text and one CSV text per table, by file name."""

    markdown: str
    csv_files: dict[str, str] = field(default_factory=dict)


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


def render_report(manifest: Mapping[str, Any], records: Mapping[str, CellRecord]) -> Report:
    """Every experiment's tables, then the failed, pending and skipped cells."""
    lines = [f"# Results: {manifest['name']}", ""]
    if manifest.get("description"):
        lines += [manifest["description"].strip(), ""]
    all_cells = {c["id"]: (e["name"], c) for e in manifest["experiments"] for c in e["cells"]}
    skipped = [s for e in manifest["experiments"] for s in e["skipped"]]
    statuses = [records[i].status if i in records else "pending" for i in all_cells]
    lines += [
        f"Matrix `{manifest['source']}`: {len(all_cells)} cells, "
        f"{statuses.count('ok')} done, {statuses.count('failed')} failed, "
        f"{statuses.count('pending')} pending, {len(skipped)} skipped.",
        "",
    ]
    csv_files: dict[str, str] = {}
    for experiment in manifest["experiments"]:
        lines += [f"## {experiment['title']}", ""]
        if experiment["title"] != experiment["name"]:
            lines[-2] += f" (`{experiment['name']}`)"
        if experiment.get("description"):
            lines += [experiment["description"].strip(), ""]
        cells = [Cell.from_json(c) for c in experiment["cells"]]
        for index, spec_json in enumerate(experiment["tables"], start=1):
            table = build_table(TableSpec.from_json(spec_json), cells, records)
            if table.title:
                lines += [f"### {table.title}", ""]
            lines += [render_markdown_table(table), "", f"*{table.caption}*", ""]
            name = _slug(f"{experiment['name']}-{table.title or index}")
            csv_files[f"{name}.csv"] = render_csv(table)
    failed = [
        (exp, c)
        for i, (exp, c) in all_cells.items()
        if i in records and records[i].status == "failed"
    ]
    if failed:
        lines += ["## Failed cells", ""]
        for experiment_name, cell_json in failed:
            record = records[cell_json["id"]]
            lines.append(
                f"- `{experiment_name}` {Cell.from_json(cell_json).describe()} "
                f"(`{cell_json['id']}`): {record.error}"
            )
        lines.append("")
    if skipped:
        lines += ["## Skipped cells", ""]
        lines += [f"- `{s['experiment']}` {s['description']}: {s['reason']}" for s in skipped]
        lines.append("")
    return Report("\n".join(lines).rstrip() + "\n", csv_files)


def write_report(store: ResultStore) -> str:
    """Redraw ``report.md`` and ``tables/*.csv`` from the store's records; return the markdown."""
    manifest = store.read_manifest()
    assert manifest is not None
    ids = [c["id"] for e in manifest["experiments"] for c in e["cells"]]
    report = render_report(manifest, store.records(ids))
    write_atomic(store.root / REPORT, report.markdown)
    for name, text in report.csv_files.items():
        write_atomic(store.root / "tables" / name, text)
    return report.markdown


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-").lower()
