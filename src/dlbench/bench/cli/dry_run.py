"""``bench run --dry-run``: the cells, which are stored and which would run, and why not."""

from __future__ import annotations

from pathlib import Path

import torch

from dlbench.bench.cli.common import EXIT_OK
from dlbench.bench.matrix import Matrix
from dlbench.bench.run.executors import ExecutorChoice
from dlbench.bench.run.preview import COLUMNS, preview
from dlbench.registry.catalog import Catalog
from dlbench.reports.markdown import render_rows


def dry_run(
    matrix: Matrix, catalog: Catalog, out: Path, device: torch.device, executor: ExecutorChoice
) -> int:
    """Print every planned cell with its status, each planner's notes, and what is slow."""
    found = preview(matrix, catalog, out, device)
    print(render_rows(found.rows, [*COLUMNS[:3], "cell"], tablefmt="simple"))
    print(
        f"\n{found.planned} unique cell(s) planned, {found.pending} to run; "
        f"results would go to {out}; executor {executor.describe()}"
    )
    for line in found.notes:
        print(f"plan {line}")
    if found.slow:
        print(found.slow)
    return EXIT_OK
