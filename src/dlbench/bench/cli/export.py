"""``bench export RUN...``: tidy rows (one per cell, or per cell and epoch) as CSV, JSON lines or
parquet; TensorBoard event files with ``--to tensorboard --out DIR``; MLflow runs with ``--to
mlflow [--tracking-uri URI]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dlbench.bench.cli.common import EXIT_OK


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``bench export`` to the subcommands."""
    export = commands.add_parser(
        "export", parents=parents, help="results as tidy rows (CSV, JSON lines, parquet)"
    )
    export.set_defaults(handler=command)
    export.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="results directories")
    export.add_argument("--format", default="csv", choices=("csv", "jsonl", "parquet"))
    rows = export.add_mutually_exclusive_group()
    rows.add_argument("--epochs", action="store_true", help="one row per cell and epoch")
    rows.add_argument(
        "--decisions",
        action="store_true",
        help="one row per decided comparison: verdict, pairs, interval, margin, P(A > B)",
    )
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    export.add_argument(
        "--to",
        choices=("tensorboard", "mlflow"),
        help="write to a tracker instead: TensorBoard event files under --out DIR, or an MLflow "
        "tracking store (--tracking-uri); one run per cell",
    )
    export.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="with --to mlflow: the tracking store (sqlite:///mlflow.db, http://HOST:PORT; "
        "default: $MLFLOW_TRACKING_URI, else MLflow's default)",
    )


def command(args: argparse.Namespace) -> int:
    """Write the rows, or the tracker's files."""
    from dlbench.bench.results.export import rows, stored_cells, write
    from dlbench.bench.results.outputs import refuse_inside
    from dlbench.bench.results.report_files import read_manifest
    from dlbench.bench.results.store import ResultStore
    from dlbench.registry.errors import DlbenchError

    if args.to == "tensorboard":
        from dlbench.bench.results.tensorboard import export_tensorboard

        if args.out is None:
            raise DlbenchError("--to tensorboard needs --out DIR")
        refuse_inside(args.out, args.runs)
        count = export_tensorboard(
            rows(args.runs), rows(args.runs, epochs=True), args.out, stored_cells(args.runs)
        )
        print(
            f"{count} run(s) written to {args.out}; view them with: tensorboard --logdir {args.out}"
        )
        return EXIT_OK
    if args.tracking_uri is not None and args.to != "mlflow":
        raise DlbenchError("--tracking-uri: only with --to mlflow")
    if args.to == "mlflow":
        from dlbench.bench.results.mlflow_export import export_mlflow

        for run in args.runs:
            read_manifest(ResultStore(run))  # a damaged or missing run, up front
        done = export_mlflow(args.runs, args.tracking_uri)
        print(
            f"{done.written} run(s) written to MLflow ({done.replaced} replacing earlier "
            f"ones), {done.unchanged} already there; tracking store {done.tracking_uri}"
        )
        return EXIT_OK
    found = rows(args.runs, args.epochs, args.decisions)
    text = write(found, args.format, args.out, args.runs)
    if text is not None:
        sys.stdout.write(text)
    else:
        print(f"{len(found)} row(s) written to {args.out}", file=sys.stderr)
    return EXIT_OK
