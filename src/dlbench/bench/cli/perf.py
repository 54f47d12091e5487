"""``bench perf``: the engine against a lab-style loop, for speed or, with ``--accuracy``, for
accuracy on real MNIST."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dlbench.bench.cli.common import (
    EXIT_OK,
    add_data_options,
    add_threads_option,
    check_threads,
    data_root,
    require_at_least,
    require_number,
)
from dlbench.bench.host import load_catalog_reporting
from dlbench.registry.errors import DlbenchError


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``bench perf`` to the subcommands."""
    perf = commands.add_parser(
        "perf",
        parents=parents,
        help="time dlbench's training engine against a lab-style loop, side by side",
    )
    perf.set_defaults(handler=command)
    perf.add_argument(
        "--scale",
        type=float,
        help="fixed work: multiply each case's default number of images by this (instead of "
        "fitting --budget)",
    )
    perf.add_argument(
        "--budget",
        type=float,
        default=150.0,
        metavar="SECONDS",
        help="about how long the run takes: each case gets as many images as fit (default 150)",
    )
    perf.add_argument(
        "--force", action="store_true", help="time even when the machine is busy (marked)"
    )
    perf.add_argument(
        "--allow-slow",
        action="store_true",
        help="time bf16 also where this CPU has no native bf16",
    )
    perf.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="time each case this many times, alternating sides; report medians (default 3)",
    )
    perf.add_argument("--no-cnn", action="store_true", help="skip the CNN and distillation cases")
    perf.add_argument(
        "--device",
        default="cpu",
        choices=("cpu", "cuda"),
        help="where both sides train (default cpu)",
    )
    add_threads_option(perf)
    perf.add_argument(
        "--matrix-section",
        action="store_true",
        help="also time matrices end to end: --jobs 1, --jobs 2 and the default (auto) on the "
        "digits lab grid, each --matrix and a decided comparison; the lab's MNIST grid with 3 "
        "and 5 seeds against the lab-style loop with 1: real MNIST from --data-root where it "
        "is there, else a stand-in sized to --budget (several minutes)",
    )
    perf.add_argument(
        "--matrix",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="with --matrix-section: also time this matrix (repeatable)",
    )
    perf.add_argument(
        "--accuracy",
        action="store_true",
        help="instead of speed: train both sides on real MNIST and compare validation accuracy",
    )
    add_data_options(perf, "with --accuracy or --matrix-section: ")
    perf.add_argument(
        "--epochs", type=int, default=2, help="with --accuracy: epochs per run (default 2)"
    )
    perf.add_argument(
        "--seeds", type=int, default=3, help="with --accuracy: seeds per side (default 3)"
    )


def command(args: argparse.Namespace) -> int:
    """Print the tables ``args`` ask for."""
    from dlbench.bench.perf import tables
    from dlbench.engine.device import resolve_device, set_threads

    require_number("--scale", args.scale, 0.0, 100.0, strict=True)
    require_number("--budget", args.budget, 10.0, 86400.0)
    require_at_least("--rounds", args.rounds, 1, 100)
    require_at_least("--epochs", args.epochs, 1, 1000)
    # The accuracy check's interval needs two seeds a side.
    require_at_least("--seeds", args.seeds, 2, 100)
    check_threads(args.threads)
    for matrix in args.matrix:
        if not args.matrix_section:
            raise DlbenchError("--matrix: times a matrix only with --matrix-section")
        if not matrix.is_file():
            raise DlbenchError(f"--matrix {matrix}: no such file")
    threads = set_threads(args.threads)
    catalog = load_catalog_reporting()
    if args.accuracy:
        tables.accuracy(catalog, data_root(args), args.download, args.epochs, args.seeds, threads)
    else:
        options = tables.SpeedOptions(
            scale=args.scale,
            rounds=args.rounds,
            cnn=not args.no_cnn,
            threads=threads,
            budget=args.budget,
            force=args.force,
            allow_slow=args.allow_slow,
            device=resolve_device(args.device).type,
        )
        tables.speed(catalog, options)
        if args.matrix_section:
            from dlbench.bench.perf.matrix_section import matrix_section

            root = data_root(args) if args.data_root is not None else None
            matrix_section(
                catalog, args.budget, threads, options.device, args.rounds, args.matrix, root
            )
    return EXIT_OK
