"""``bench export RUN...``: tidy rows (one per cell, or per cell and epoch) as CSV, JSON lines or
parquet, or TensorBoard event files with ``--to tensorboard DIR``."""

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
        choices=("tensorboard",),
        help="write tracker files instead: event files under --out DIR, one run per cell",
    )


def command(args: argparse.Namespace) -> int:
    """Write the rows, or the tracker's files."""
    from dlbench.bench.results.export import rows, stored_cells, write
    from dlbench.bench.results.outputs import refuse_inside
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
    found = rows(args.runs, args.epochs, args.decisions)
    text = write(found, args.format, args.out, args.runs)
    if text is not None:
        sys.stdout.write(text)
    else:
        print(f"{len(found)} row(s) written to {args.out}", file=sys.stderr)
    return EXIT_OK
