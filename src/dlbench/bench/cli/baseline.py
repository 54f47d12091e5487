"""``bench baseline export RUN FILE``: a run's metrics, small enough to commit."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dlbench.bench.cli.common import EXIT_OK


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``bench baseline`` to the subcommands."""
    baseline = commands.add_parser(
        "baseline", parents=parents, help="export a run's metrics as a baseline"
    )
    baseline.set_defaults(handler=command)
    baseline.add_argument("action", choices=("export",))
    baseline.add_argument("run", type=Path, help="results directory")
    baseline.add_argument("file", type=Path, help="baseline JSON to write")


def command(args: argparse.Namespace) -> int:
    """Write the baseline file."""
    from dlbench.bench.results.baselines import export_baseline
    from dlbench.bench.results.outputs import write_output

    data = export_baseline(args.run)
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    write_output(args.file, text, [args.run], option="FILE")
    print(f"{len(data['cells'])} cell(s) written to {args.file}")
    return EXIT_OK
