"""What the subcommands share: the one-line-error parser, data and thread options."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import NoReturn

from dlbench.bench.host import DATA_ENV, default_data_root
from dlbench.registry.errors import DlbenchError

EXIT_OK, EXIT_FAILED_CELLS, EXIT_USAGE = 0, 1, 2
#: More threads than this per cell is a typo, not a machine.
MAX_THREADS = 1024


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with usage errors as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message (see prog --help)`` and exit 2."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_data_options(parser: argparse.ArgumentParser, scope: str = "") -> None:
    """``--data-root`` and ``--no-download``."""
    parser.add_argument(
        "--data-root",
        type=Path,
        help=f"{scope}dataset folder (default: ${DATA_ENV}, else a user cache folder)",
    )
    parser.add_argument(
        "--no-download",
        dest="download",
        action="store_false",
        help=f"{scope}never download datasets; fail if files are missing",
    )


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """``--threads``."""
    parser.add_argument("--threads", type=int, help="torch threads (default: available cores)")


def data_root(args: argparse.Namespace) -> Path:
    """The dataset folder ``--data-root`` names, else the default one, made absolute."""
    return (args.data_root or default_data_root()).expanduser().resolve()


def require_at_least(option: str, value: int | None, least: int, most: int | None = None) -> None:
    """A whole-number option below ``least`` (or above ``most``) is a usage error."""
    if value is None:
        return
    if value < least or (most is not None and value > most):
        bound = f">= {least}" if most is None else f"between {least} and {most}"
        raise DlbenchError(f"{option} {value}: expected a whole number {bound}")


def require_number(
    option: str,
    value: float | None,
    least: float = 0.0,
    most: float | None = None,
    strict: bool = False,
) -> None:
    """A finite number option between ``least`` (excluded when ``strict``) and ``most``."""
    if value is None:
        return
    if (
        not math.isfinite(value)
        or value < least
        or (strict and value == least)
        or (most is not None and value > most)
    ):
        if most is not None:
            bound = f"between {least:g} and {most:g}" + (f" (not {least:g})" if strict else "")
        else:
            bound = f"> {least:g}" if strict else f">= {least:g}"
        raise DlbenchError(f"{option} {_text(value)}: expected a finite number {bound}")


def _text(value: float) -> str:
    return f"{value:g}" if math.isfinite(value) else str(value)


def check_threads(threads: int | None) -> None:
    """``--threads`` between 1 and ``MAX_THREADS``."""
    require_at_least("--threads", threads, 1, MAX_THREADS)
