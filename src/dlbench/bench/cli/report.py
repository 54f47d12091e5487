"""``bench report DIR``: redraw a results directory's report from its records, without training."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from dlbench.bench.cli.common import EXIT_FAILED_CELLS, EXIT_OK
from dlbench.registry.errors import DlbenchError


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``bench report`` to the subcommands."""
    report = commands.add_parser(
        "report", parents=parents, help="redraw a results directory's tables and plots"
    )
    report.set_defaults(handler=command)
    report.add_argument(
        "directories",
        nargs="+",
        type=Path,
        metavar="DIR",
        help="a results directory; several (with --out) are merged first",
    )
    report.add_argument(
        "--out",
        type=Path,
        help="with several DIRs: the new results directory their merge is written to",
    )
    report.add_argument(
        "--pdf", action="store_true", help="also write every plot as PDF (beside PNG and SVG)"
    )


def command(args: argparse.Namespace) -> int:
    """Redraw the report and print it."""
    from dlbench.bench.results.report_files import render_stored_report, write_report
    from dlbench.bench.results.store import ResultStore
    from dlbench.reports.plots import FORMATS

    formats = (*FORMATS, "pdf") if args.pdf else None
    if len(args.directories) > 1 or args.out is not None:
        return merged(args, formats)
    directory = args.directories[0]
    if not directory.is_dir():
        raise DlbenchError(f"{directory}: not a directory")
    store = ResultStore(directory)
    if not os.access(directory, os.W_OK):
        print(render_stored_report(store, formats=formats).markdown)
        print(
            f"bench: warning: {directory} is read-only: report files were not rewritten",
            file=sys.stderr,
        )
        return EXIT_OK
    print(write_report(store, formats))
    return EXIT_OK


def merged(args: argparse.Namespace, formats: tuple[str, ...] | None) -> int:
    """Merge the directories into ``--out`` and print the merged report; conflicts: exit 1."""
    from dlbench.bench.results.merge import merge_runs
    from dlbench.bench.results.report_files import write_report
    from dlbench.bench.results.store import ResultStore

    if args.out is None:
        raise DlbenchError("several results directories are merged into a new one: give --out")
    conflicts = merge_runs(args.directories, args.out)
    print(write_report(ResultStore(args.out), formats))
    for conflict in conflicts:
        print(f"bench: conflict: {conflict}", file=sys.stderr)
    return EXIT_FAILED_CELLS if conflicts else EXIT_OK
