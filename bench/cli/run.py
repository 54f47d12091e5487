"""``bench run``: validate the whole matrix, then run what is not stored yet."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from dlbench.bench.cli.common import (
    EXIT_FAILED_CELLS,
    EXIT_OK,
    add_data_options,
    add_threads_option,
    check_threads,
    data_root,
    load_catalog,
)
from dlbench.registry.errors import DlbenchError


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
    run.add_argument(
        "--executor",
        metavar="NAME",
        help="how cells run: local (default) or ray; overrides the matrix",
    )
    run.add_argument(
        "--address",
        help="the cluster to use, for executors that take one "
        "(ray: 'local' starts one here, 'auto' finds a running one)",
    )
    run.add_argument("--dry-run", action="store_true", help="list the cells and stop")
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


def command(args: argparse.Namespace) -> int:
    """Run the matrix ``args`` name; the exit code."""
    from dlbench.bench.context import RunSettings
    from dlbench.bench.matrix import load_matrix
    from dlbench.bench.matrix.overrides import parse_override
    from dlbench.bench.progress import make_progress
    from dlbench.bench.report_files import REPORT, write_report
    from dlbench.bench.runner import RunOptions, run_matrix
    from dlbench.bench.store import ResultStore
    from dlbench.engine.device import resolve_device, set_threads

    check_threads(args.threads)
    overrides = [parse_override(text) for text in args.overrides]
    catalog = load_catalog()
    if args.executor is not None:
        catalog.executors.get(args.executor)  # an unknown name is a usage error, up front
    matrix = load_matrix(args.matrix, catalog, overrides, args.only)
    out = args.out or Path("runs") / matrix.name
    device = resolve_device(args.device)
    if args.dry_run:
        from dlbench.bench.cli.dry_run import dry_run

        return dry_run(matrix, catalog, out)
    store = ResultStore.open(out, matrix.name)
    settings = RunSettings(
        device=device,
        data_root=data_root(args),
        download=args.download,
        threads=set_threads(args.threads),
    )
    with store.lock():
        try:
            options = RunOptions(
                force=args.force,
                keep_stale=args.keep_stale,
                executor=args.executor,
                executor_options={"address": args.address} if args.address else {},
                device=args.device,
            )
            summary = run_matrix(matrix, store, catalog, settings, make_progress(), options)
        except KeyboardInterrupt as stop:
            # Pressed again, or the disk is full: the stored records are what matters.
            with contextlib.suppress(KeyboardInterrupt, DlbenchError, OSError):
                write_report(store)
            reason = str(stop) or "interrupted"
            print(
                f"bench: stopped ({reason}); finished cells are stored in {out}. "
                "Run the same command again to resume.",
                file=sys.stderr,
            )
            stop.reported = True  # type: ignore[attr-defined]
            raise
        print(write_report(store))
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
