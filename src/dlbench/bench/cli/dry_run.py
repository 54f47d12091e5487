"""``bench run --dry-run``: the cells, which are stored and which would run, and why not."""

from __future__ import annotations

from pathlib import Path

from dlbench.bench.cli.common import EXIT_OK
from dlbench.bench.matrix import Matrix
from dlbench.bench.run.preview import COLUMNS, preview
from dlbench.bench.run.services import RunOptions, RunSettings
from dlbench.registry.catalog import Catalog
from dlbench.reports.markdown import render_rows


def dry_run(
    matrix: Matrix, catalog: Catalog, out: Path, settings: RunSettings, options: RunOptions
) -> int:
    """Print every planned cell with its status, each planner's notes, what is slow, and how the
    executor would run the cells (the line the run prints)."""
    found = preview(matrix, catalog, out, settings, options)
    print(render_rows(found.rows, [*COLUMNS[:3], "cell"], tablefmt="simple"))
    print(
        f"\n{found.planned} unique cell(s) planned, {found.pending} to run; "
        f"results would go to {out}; {found.executor}"
    )
    for line in found.notes:
        print(f"plan {line}")
    if found.slow:
        print(found.slow)
    return EXIT_OK
