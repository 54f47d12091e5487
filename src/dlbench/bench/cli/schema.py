"""``bench schema``: the JSON Schema of matrix files, for editors to complete and check them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dlbench.bench.cli.common import EXIT_OK
from dlbench.bench.host import load_catalog_reporting


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``bench schema`` to the subcommands."""
    schema = commands.add_parser(
        "schema",
        parents=parents,
        help="print the JSON Schema of matrix files (with the installed plugins' names)",
    )
    schema.set_defaults(handler=command)
    schema.add_argument("--out", type=Path, help="file to write (default: standard output)")


def command(args: argparse.Namespace) -> int:
    """Print or write the schema."""
    from dlbench.bench.matrix.schema import matrix_schema
    from dlbench.bench.results.outputs import write_output

    text = json.dumps(matrix_schema(load_catalog_reporting()), indent=2) + "\n"
    if args.out is None:
        print(text, end="")
    else:
        write_output(args.out, text)
    return EXIT_OK
