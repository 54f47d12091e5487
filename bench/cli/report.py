"""``bench report DIR``: redraw a results directory's report from its records, without training."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from dlbench.bench.cli.common import EXIT_OK
from dlbench.registry.errors import DlbenchError


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``bench report`` to the subcommands."""
    report = commands.add_parser(
        "report", parents=parents, help="redraw a results directory's tables and plots"
    )
    report.set_defaults(handler=command)
    report.add_argument("directory", type=Path)
    report.add_argument(
        "--pdf", action="store_true", help="also write every plot as PDF (beside PNG and SVG)"
    )


def command(args: argparse.Namespace) -> int:
    """Redraw the report and print it."""
    from dlbench.bench.report_files import render_stored_report, write_report
    from dlbench.bench.store import ResultStore
    from dlbench.reports.plots import FORMATS

    if not args.directory.is_dir():
        raise DlbenchError(f"{args.directory}: not a directory")
    formats = (*FORMATS, "pdf") if args.pdf else None
    store = ResultStore(args.directory)
    if not os.access(args.directory, os.W_OK):
        print(render_stored_report(store, formats=formats).markdown)
        print(
            f"bench: warning: {args.directory} is read-only: report files were not rewritten",
            file=sys.stderr,
        )
        return EXIT_OK
    print(write_report(store, formats))
    return EXIT_OK
