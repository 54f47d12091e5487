"""One run of a matrix into its results directory, as ``bench run`` and ``dlbench.run`` do it:
the directory opened and locked, the planners' cells run, the report written (also when the run
is interrupted, before the interrupt goes on)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from dlbench.bench.matrix import Matrix
from dlbench.bench.results.report_files import write_report
from dlbench.bench.results.store import ResultStore
from dlbench.bench.run.progress import Progress
from dlbench.bench.run.runner import RunSummary, run_matrix
from dlbench.bench.run.services import RunOptions, RunSettings
from dlbench.engine.device import available_cores, resolve_device, set_threads
from dlbench.registry.catalog import Catalog
from dlbench.registry.errors import DlbenchError


def settings_for(device: str, data_root: Path, download: bool, threads: int | None) -> RunSettings:
    """How cells run in this process: the device resolved, torch's threads set (the given ones,
    else every core this process may use)."""
    return RunSettings(
        device=resolve_device(device),
        data_root=data_root,
        download=download,
        threads=set_threads(threads or available_cores()),
    )


def run_into(
    matrix: Matrix,
    catalog: Catalog,
    out: Path,
    settings: RunSettings,
    options: RunOptions,
    progress: Progress,
) -> tuple[RunSummary, str]:
    """Run ``matrix`` into the results directory ``out`` under its lock; the summary and the
    report's markdown. An interrupt writes the report of what is stored, then goes on."""
    store = ResultStore.open(out, matrix.name)
    with store.lock():
        try:
            summary = run_matrix(matrix, store, catalog, settings, progress, options)
        except KeyboardInterrupt:
            # Pressed again, or the disk is full: the stored records are what matters.
            with contextlib.suppress(KeyboardInterrupt, DlbenchError, OSError):
                write_report(store)
            raise
        markdown = write_report(store, manifest=summary.manifest)
        if options.mlflow is not None:
            from dlbench.bench.results.mlflow_export import export_mlflow

            # Attaches the report to each cell's run (the live observer logged the rest).
            export_mlflow([store.root], options.mlflow or None)
        return summary, markdown


def stopped_message(reason: str, out: Path, again: str = "command") -> str:
    """The one line said when a run stops early."""
    return (
        f"bench: stopped ({reason}); finished cells are stored in {out}. Run the same {again} "
        "again to resume."
    )
