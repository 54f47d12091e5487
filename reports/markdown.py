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
from reports.plots import curves_plot, gradient_norm_plot
from reports.tables import Table, build_table, leaderboard_rows

REPORT = "report.md"
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


def render_report(manifest: Mapping[str, Any], records: Mapping[str, CellRecord]) -> Report:
    """Every experiment's tables and plots, then the cells that failed or were skipped."""
    lines = [f"# Results: {manifest['name']}", ""]
    if manifest.get("description"):
        lines += [manifest["description"].strip(), ""]
    shown = [e for e in manifest["experiments"] if e.get("selected", True)]
    catalog = {
        e["name"]: (e["title"], [Cell.from_json(c) for c in e["cells"]])
        for e in manifest["experiments"]
    }
    owners = {c["id"]: (e["name"], c) for e in shown for c in e["cells"]}
    planned_skips = [s for e in shown for s in e["skipped"]]
    statuses = [records[i].status if i in records else "pending" for i in owners]
    lines += [
        f"Matrix `{manifest['source']}`: {len(owners)} cells, "
        f"{statuses.count('ok')} done, {statuses.count('failed')} failed, "
        f"{statuses.count('pending')} pending, "
        f"{statuses.count('skipped') + len(planned_skips)} skipped.",
        "",
    ]
    report = Report("")
    for experiment in shown:
        lines += _experiment_section(experiment, records, report, catalog)
    for status, heading in (("failed", "Failed cells"), ("skipped", "Skipped cells")):
        entries = [
            f"- `{experiment}` {Cell.from_json(cell).describe()} (`{cell_id}`): "
            f"{records[cell_id].error}"
            for cell_id, (experiment, cell) in owners.items()
            if cell_id in records and records[cell_id].status == status
        ]
        if status == "skipped":
            entries += [
                f"- `{s['experiment']}` {s['description']}: {s['reason']}" for s in planned_skips
            ]
        if entries:
            lines += [f"## {heading}", "", *entries, ""]
    return Report("\n".join(lines).rstrip() + "\n", report.csv_files, report.images)


def _experiment_section(
    experiment: Mapping[str, Any],
    records: Mapping[str, CellRecord],
    report: Report,
    experiments: Mapping[str, tuple[str, list[Cell]]],
) -> list[str]:
    """An experiment's heading, tables and plots; adds its CSV and PNG files to ``report``."""
    heading = f"## {experiment['title']}"
    if experiment["title"] != experiment["name"]:
        heading += f" (`{experiment['name']}`)"
    lines = [heading, ""]
    if experiment.get("description"):
        lines += [experiment["description"].strip(), ""]
    cells = [Cell.from_json(c) for c in experiment["cells"]]
    for index, spec_json in enumerate(experiment["tables"], start=1):
        spec = TableSpec.from_json(spec_json)
        table = build_table(spec, cells, records, experiments)
        if table.title:
            lines += [f"### {table.title}", ""]
        lines += [render_markdown_table(table), "", f"*{table.caption}*", ""]
        stem = _slug(f"{experiment['name']}-{table.title or index}")
        report.csv_files[f"{stem}.csv"] = render_csv(table)
        if spec.curves:
            png = curves_plot(
                leaderboard_rows(spec, experiments), records, spec.curves, table.title
            )
            if png is not None:
                report.images[f"{PLOTS}/{stem}-curves.png"] = png
                lines += [f"![Training curves]({PLOTS}/{stem}-curves.png)", ""]
    png = (
        gradient_norm_plot(cells, records, f"{experiment['title']}: gradient norms")
        if "grad_norms" in experiment.get("probes", ())
        else None
    )
    if png is not None:
        name = f"{PLOTS}/{_slug(experiment['name'])}-grad-norms.png"
        report.images[name] = png
        lines += [f"![Gradient norm by layer depth]({name})", ""]
    return lines


def write_report(store: ResultStore) -> str:
    """Redraw ``report.md``, its CSV tables and plots from the store's records.

    :returns: the markdown.
    """
    manifest = store.read_manifest()
    assert manifest is not None
    ids = list(dict.fromkeys(c["id"] for e in manifest["experiments"] for c in e["cells"]))
    report = render_report(manifest, store.records(ids))
    write_atomic(store.root / REPORT, report.markdown)
    for name, text in report.csv_files.items():
        write_atomic(store.root / "tables" / name, text)
    for name, image in report.images.items():
        write_atomic(store.root / name, image)
    return report.markdown


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-").lower()
