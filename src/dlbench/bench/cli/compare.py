"""``bench compare RUN BASELINE``: every metric's old and new value; exit 1 on a regression."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dlbench.bench.cli.common import EXIT_FAILED_CELLS, EXIT_OK, require_number
from dlbench.reports.markdown import render_rows


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``bench compare`` to the subcommands."""
    compare = commands.add_parser(
        "compare", parents=parents, help="compare a run with a baseline; exit 1 on a regression"
    )
    compare.set_defaults(handler=command)
    compare.add_argument("run", type=Path, help="results directory")
    compare.add_argument("baseline", type=Path, help="results directory or baseline JSON")
    compare.add_argument(
        "--accuracy-tolerance",
        type=float,
        default=0.01,
        help="allowed accuracy drop, as a fraction (default 0.01)",
    )
    compare.add_argument(
        "--loss-tolerance", type=float, default=0.05, help="allowed loss rise (default 0.05)"
    )
    compare.add_argument(
        "--changed",
        action="store_true",
        help="show only the comparisons that are not ok (regressions, improvements, changes "
        "within noise, missing configurations)",
    )
    compare.add_argument(
        "--allow-undecided",
        action="store_true",
        help="pass comparisons whose 95%% interval is too wide to tell a regression from none "
        "(by default they fail the gate: add seeds to narrow them)",
    )
    compare.add_argument(
        "--any-machine",
        action="store_true",
        help="compare metrics trained on another device or CPU instruction set (by default "
        "refused: their float results differ by more than a tolerance can tell)",
    )
    compare.add_argument(
        "--time",
        type=float,
        metavar="FRACTION",
        help="also compare training time, allowing this relative slow-down",
    )


def command(args: argparse.Namespace) -> int:
    """Print the comparison table and the number of regressions."""
    from dlbench.bench.results.baselines import export_baseline, load_baseline
    from dlbench.reports.compare import Tolerance, compare

    require_number("--accuracy-tolerance", args.accuracy_tolerance)
    require_number("--loss-tolerance", args.loss_tolerance)
    require_number("--time", args.time)
    tolerance = Tolerance(
        args.accuracy_tolerance,
        args.loss_tolerance,
        args.time or 0.0,
        args.allow_undecided,
        args.any_machine,
    )
    current = export_baseline(args.run)["cells"]
    rows, regressions = compare(
        current, load_baseline(args.baseline), tolerance, with_time=args.time is not None
    )
    shown = [row for row in rows if row[-1] != "ok"] if args.changed else rows
    print(
        render_rows(
            shown,
            ["configuration", "metric", "baseline", "now", "change [95% interval]", "verdict"],
        )
    )
    if args.time is not None and rows:
        print("\ntimings compared: both sides ran on the same machine, with the same concurrency")
    print(
        f"\n{regressions} regression(s) or other failure(s) of the gate (invalid values, missing "
        f"configurations, intervals too wide to tell) in {len(rows)} comparison(s)"
    )
    return EXIT_FAILED_CELLS if regressions else EXIT_OK
