"""``bench run``: validate the whole matrix, then run what is not stored yet."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlbench.bench.cli.common import (
    EXIT_FAILED_CELLS,
    EXIT_OK,
    add_data_options,
    add_threads_option,
    check_threads,
    data_root,
)
from dlbench.bench.host import load_catalog_reporting
from dlbench.bench.matrix.yamlfile import as_typed, parse_value, shown
from dlbench.registry.errors import DlbenchError

if TYPE_CHECKING:
    from dlbench.bench.matrix import Matrix
    from dlbench.bench.run.services import RunOptions
    from dlbench.registry.catalog import Catalog


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``bench run`` to the subcommands."""
    run = commands.add_parser("run", parents=parents, help="run a matrix and write its report")
    run.set_defaults(handler=command)
    run.add_argument("--matrix", required=True, type=Path, help="matrix YAML file")
    run.add_argument("--out", type=Path, help="results directory (default: runs/<matrix name>)")
    run.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="GLOB",
        help="run only experiments whose name matches (repeatable)",
    )
    run.add_argument(
        "--set",
        action="append",
        default=[],
        dest="overrides",
        metavar="KEY=VALUE",
        help="override a value, e.g. strategy.epochs=1 (repeatable)",
    )
    run.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda"),
        help="training device; auto picks CUDA when present (default)",
    )
    add_data_options(run)
    add_threads_option(run)
    add_execution_options(run)
    run.add_argument("--dry-run", action="store_true", help="list the cells and stop")
    run.add_argument(
        "--allow-slow",
        action="store_true",
        help="run cells with options this device runs slowly (bf16 without native support)",
    )
    run.add_argument(
        "--tensorboard",
        action="store_true",
        help="write each cell's curves as TensorBoard event files while it trains, under "
        "RESULTS/tb: watch them with tensorboard --logdir RESULTS/tb",
    )
    run.add_argument(
        "--mlflow",
        nargs="?",
        const="",
        metavar="URI",
        help="log each cell to MLflow while it trains: to URI (sqlite:///mlflow.db, "
        "http://HOST:PORT), or without one to $MLFLOW_TRACKING_URI, else MLflow's default",
    )
    run.add_argument(
        "--retry-failed",
        action="store_true",
        help="run again the failed runs of decided comparisons (kept otherwise: retrying "
        "failures until they pass biases a decision); a verdict that changes is marked revised",
    )
    run.add_argument(
        "--keep-stale",
        action="store_true",
        help="reuse stored results made by plugin code that has changed since; the report marks "
        "them stale",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="rerun cells already stored; a rerun that finishes replaces the stored result, "
        "one that fails is reported beside it and the stored result is kept",
    )


def add_execution_options(run: argparse.ArgumentParser) -> None:
    """Add the options that say how and where cells run (executor, cluster, workers)."""
    run.add_argument(
        "--executor",
        metavar="NAME",
        help="how cells run: local (default), ray, slurm or a plugin's; overrides the matrix",
    )
    run.add_argument(
        "--executor-opt",
        action="append",
        default=[],
        dest="executor_options",
        metavar="KEY=VALUE",
        help="an option of the executor, over the matrix's (repeatable; values are YAML), e.g. "
        "address=auto for ray, partition=gpu or time=90 for slurm; bench list executors "
        "--params lists them",
    )
    run.add_argument(
        "--jobs",
        metavar="N|auto",
        help="the local executor's jobs option: cells run at once in worker processes, each "
        "with its share of the cores and a GPU of its own where several are visible; auto (the "
        "default) chooses from the cores, the memory available and the cells, and starts "
        "workers only once the work left repays their start; 1: in this process",
    )


def command(args: argparse.Namespace) -> int:
    """Run the matrix ``args`` name; the exit code."""
    from dlbench.bench.matrix import load_matrix
    from dlbench.bench.matrix.overrides import parse_override
    from dlbench.bench.run.executors import choose_executor
    from dlbench.engine.device import resolve_device

    check_threads(args.threads)
    overrides = [parse_override(text) for text in args.overrides]
    catalog = load_catalog_reporting()
    if args.executor is not None:
        catalog.executors.get(args.executor)  # an unknown name is a usage error, up front
    matrix = load_matrix(args.matrix, catalog, overrides, args.only)
    out = args.out or Path("runs") / matrix.name
    resolve_device(args.device)  # `--device cuda` without a GPU is a usage error, up front
    args.run_options = run_options(args)
    choose_executor(matrix, catalog, args.run_options)  # bad options, up front
    if args.dry_run:
        from dlbench.bench.cli.dry_run import dry_run
        from dlbench.bench.run.session import settings_for

        settings = settings_for(args.device, data_root(args), args.download, args.threads)
        return dry_run(matrix, catalog, out, settings, args.run_options)
    if out.is_dir() and not os.access(out, os.W_OK):
        return read_only(matrix, catalog, out)
    return run(matrix, catalog, out, args)


def run(matrix: Matrix, catalog: Catalog, out: Path, args: argparse.Namespace) -> int:
    """Run what is not stored yet under the directory's lock, then write the report."""
    from dlbench.bench.results.report_files import REPORT
    from dlbench.bench.run.progress import make_progress
    from dlbench.bench.run.session import run_into, settings_for, stopped_message

    settings = settings_for(args.device, data_root(args), args.download, args.threads)
    try:
        summary, markdown = run_into(
            matrix, catalog, out, settings, args.run_options, make_progress()
        )
    except KeyboardInterrupt as stop:
        print(stopped_message(str(stop) or "interrupted", out), file=sys.stderr)
        stop.reported = True  # type: ignore[attr-defined]
        raise
    print(markdown)
    if args.debug:
        for record in (*summary.failed, *summary.kept):
            print(
                f"bench: cell {record.cell_id} failed: {record.error}\n"
                f"{record.traceback or '(no traceback recorded)'}",
                file=sys.stderr,
            )
    planned_skips = sum(len(e.skipped) for e in matrix.experiments)
    skipped = len(summary.skipped) + planned_skips
    kept = f", {len(summary.kept)} failed rerun(s) kept the earlier result" if summary.kept else ""
    print(
        f"{summary.ran} cell(s) ran, {summary.reused} reused, {len(summary.failed)} failed, "
        f"{skipped} skipped{kept}; report: {out / REPORT}",
        file=sys.stderr,
    )
    problems = summary.failed or summary.skipped or summary.kept
    return EXIT_FAILED_CELLS if problems else EXIT_OK


def read_only(matrix: Matrix, catalog: Catalog, out: Path) -> int:
    """A results directory this user cannot write: its report when every cell is stored,
    else a one-line error saying how many cells would run."""
    from dlbench.bench.results.report_files import render_stored_report
    from dlbench.bench.results.store import ResultStore, StoredRecords
    from dlbench.bench.run.pending import current_code, pending_cells, planned_now, stale_cells
    from dlbench.bench.run.plan import planned_experiments

    store = ResultStore(out)
    planned = planned_now(matrix, store)
    code = current_code(matrix, catalog, planned)
    pending = pending_cells(planned, matrix, store, stale=stale_cells(planned, store, code))
    if pending:
        raise DlbenchError(
            f"--out {out}: read-only, and {len(pending)} cell(s) would run; make it writable "
            "or choose another --out"
        )
    records = StoredRecords(store)
    report = render_stored_report(
        store, matrix.manifest(catalog, code, planned_experiments(matrix, records))
    )
    print(report.markdown)
    print(
        f"bench: warning: --out {out} is read-only: every cell is stored; report files were "
        "not rewritten",
        file=sys.stderr,
    )
    failed = [r for cell in planned if (r := records.get(cell.id)) and r.status != "ok"]
    return EXIT_FAILED_CELLS if failed else EXIT_OK


def run_options(args: argparse.Namespace) -> RunOptions:
    """The run's options from the command line: ``--executor-opt`` and ``--jobs`` as executor
    options that remember where they were given."""
    from dlbench.bench.run.services import RunOptions

    given = [
        (*_key_value("--executor-opt", text), f"--executor-opt {as_typed(text)}")
        for text in args.executor_options
    ]
    if args.jobs is not None:
        given.append(("jobs", _jobs(args.jobs), f"--jobs {as_typed(args.jobs)}"))
    return RunOptions.given(
        given,
        force=args.force,
        keep_stale=args.keep_stale,
        executor=args.executor,
        device=args.device,
        allow_slow=args.allow_slow,
        retry_failed=args.retry_failed,
        tensorboard=args.tensorboard,
        mlflow=args.mlflow,
        command=" ".join(["bench", *map(shlex.quote, args.argv)]),
        threads_given=args.threads is not None,
    )


def _jobs(text: str) -> int | str:
    """``--jobs``: a whole number in decimal digits, or ``auto`` (YAML would read ``010`` as 8
    and ``0x10`` as 16)."""
    if text.strip() == "auto":
        return "auto"
    if text.strip().isdecimal() and len(text.strip()) <= 6:
        return int(text.strip())
    raise DlbenchError(f"--jobs {as_typed(text)}: expected auto or a whole number (1, 2, ...)")


def _key_value(option: str, text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise DlbenchError(
            f"{option} {shown(text)}: expected KEY=VALUE, e.g. address=auto or time=90"
        )
    if len(key) > 100:
        raise DlbenchError(f"{option} {shown(text)}: the key is longer than 100 characters")
    return key.strip(), _yaml(f"{option} {shown(key.strip() + '=')}", value)


def _yaml(where: str, text: str) -> Any:
    """A command-line value read as YAML (``2``, ``auto``, ``[a, b]``), like ``--set``'s, with
    the matrix file's bounds."""
    return parse_value(text, where)
