"""The ``bench`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from platformdirs import user_cache_path
from tabulate import tabulate

from registry.errors import DlbenchError

EXIT_OK, EXIT_FAILED_CELLS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
LIST_KINDS = ("models", "datasets", "strategies", "executors", "probes", "plugins")
DATA_ENV = "DLBENCH_DATA"


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with usage errors as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message (see prog --help)`` and exit 2."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> ArgumentParser:
    """The parser for every subcommand."""
    parser = ArgumentParser(prog="bench", description="Run deep-learning benchmark matrices.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    # ``--debug`` is also accepted after the subcommand, without showing in its help.
    debug = ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )

    run = commands.add_parser("run", parents=[debug], help="run a matrix and write its report")
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
    _add_data_options(run)
    _add_threads_option(run)
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
    run.add_argument("--force", action="store_true", help="rerun cells already stored")

    listing = commands.add_parser(
        "list", parents=[debug], help="list registered plugins and what they provide"
    )
    listing.add_argument("kind", nargs="?", default="models", choices=LIST_KINDS)
    listing.add_argument("--include", default="*", metavar="GLOB", help="names to show")

    perf = commands.add_parser(
        "perf",
        parents=[debug],
        help="time dlbench's training engine against a lab-style loop, side by side",
    )
    perf.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply the number of images timed per case (default 1)",
    )
    perf.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="time each case this many times, alternating sides; report medians (default 3)",
    )
    perf.add_argument("--no-cnn", action="store_true", help="skip the CNN and distillation cases")
    _add_threads_option(perf)
    perf.add_argument(
        "--accuracy",
        action="store_true",
        help="instead of speed: train both sides on real MNIST and compare validation accuracy",
    )
    _add_data_options(perf, "with --accuracy: ")
    perf.add_argument(
        "--epochs", type=int, default=2, help="with --accuracy: epochs per run (default 2)"
    )
    perf.add_argument(
        "--seeds", type=int, default=3, help="with --accuracy: seeds per side (default 3)"
    )

    compare = commands.add_parser(
        "compare", parents=[debug], help="compare a run with a baseline; exit 1 on a regression"
    )
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
        "--time",
        type=float,
        metavar="FRACTION",
        help="also compare training time, allowing this relative slow-down",
    )

    baseline = commands.add_parser(
        "baseline", parents=[debug], help="export a run's metrics as a baseline"
    )
    baseline.add_argument("action", choices=("export",))
    baseline.add_argument("run", type=Path, help="results directory")
    baseline.add_argument("file", type=Path, help="baseline JSON to write")

    report = commands.add_parser(
        "report", parents=[debug], help="redraw a results directory's tables"
    )
    report.add_argument("directory", type=Path)
    return parser


def _add_data_options(parser: argparse.ArgumentParser, scope: str = "") -> None:
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


def _add_threads_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, help="torch threads (default: available cores)")


def data_root(args: argparse.Namespace) -> Path:
    """The dataset folder ``--data-root`` names, else the default one, made absolute."""
    return (args.data_root or default_data_root()).expanduser().resolve()


def require_at_least(option: str, value: int | None, least: int) -> None:
    """A whole-number option below ``least`` is a usage error (``None``: not given)."""
    if value is not None and value < least:
        raise DlbenchError(f"{option} {value}: expected a whole number >= {least}")


def default_data_root() -> Path:
    """``$DLBENCH_DATA``, else the user's cache folder for dlbench."""
    configured = os.environ.get(DATA_ENV)
    return Path(configured) if configured else user_cache_path("dlbench") / "data"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        return int(COMMANDS[args.command](args))
    except DlbenchError as exc:
        if args.debug:
            raise
        print(f"bench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _show_warning(message: Warning | str, *args: Any, **kwargs: Any) -> None:
    print(f"bench: warning: {message}", file=sys.stderr)


def _catalog() -> Any:
    from registry.catalog import build_catalog
    from registry.manager import build_plugin_manager

    host = build_plugin_manager()
    catalog = build_catalog(host)
    for message in host.load_errors:
        print(f"bench: warning: {message}; skipped", file=sys.stderr)
    return catalog


def command_run(args: argparse.Namespace) -> int:
    """``bench run``: validate the whole matrix, then run what is not stored yet."""
    from bench.engine.device import resolve_device, set_threads
    from bench.matrix import load_matrix
    from bench.overrides import parse_override
    from bench.progress import make_progress
    from bench.runner import RunSettings, run_matrix
    from bench.store import ResultStore
    from reports.markdown import REPORT, write_report

    require_at_least("--threads", args.threads, 1)
    overrides = [parse_override(text) for text in args.overrides]
    catalog = _catalog()
    if args.executor is not None:
        catalog.executors.get(args.executor)  # an unknown name is a usage error, up front
    matrix = load_matrix(args.matrix, catalog, overrides, args.only)
    out = args.out or Path("runs") / matrix.name
    device = resolve_device(args.device)
    if args.dry_run:
        return _dry_run(matrix, out)
    store = ResultStore.open(out, matrix.name)
    settings = RunSettings(
        device=device,
        data_root=data_root(args),
        download=args.download,
        threads=set_threads(args.threads),
    )
    with store.lock():
        try:
            summary = run_matrix(
                matrix,
                store,
                catalog,
                settings,
                make_progress(),
                force=args.force,
                executor_name=args.executor,
                executor_options={"address": args.address} if args.address else {},
                device_policy=args.device,
            )
        except KeyboardInterrupt:
            write_report(store)
            print(
                f"bench: interrupted; finished cells are stored in {out}. "
                "Run the same command again to resume.",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        print(write_report(store))
    print(
        f"{summary.ran} cell(s) ran, {summary.reused} reused, {len(summary.failed)} failed, "
        f"{len(summary.skipped)} skipped; report: {out / REPORT}",
        file=sys.stderr,
    )
    return EXIT_FAILED_CELLS if summary.failed or summary.skipped else EXIT_OK


def _dry_run(matrix: Any, out: Path) -> int:
    from bench.runner import pending_cells
    from bench.store import ResultStore

    pending = {cell.id for cell in pending_cells(matrix, ResultStore(out))}
    rows = []
    for experiment in matrix.experiments:
        for cell in experiment.cells:
            status = "to run" if cell.id in pending else "stored"
            rows.append([experiment.name, cell.id, status, cell.describe()])
        for skipped in experiment.skipped:
            rows.append(
                [experiment.name, "-", "skipped", f"{skipped.description}: {skipped.reason}"]
            )
    print(tabulate(rows, headers=["experiment", "cell", "status", "cell"], tablefmt="simple"))
    print(
        f"\n{len(matrix.unique_cells())} unique cell(s), {len(pending)} to run; "
        f"results would go to {out}"
    )
    return EXIT_OK


def command_list(args: argparse.Namespace) -> int:
    """``bench list``: what is registered, and by which plugin."""
    catalog = _catalog()
    if args.kind == "plugins":
        rows = [
            [info.name, info.distribution, info.version, "built-in" if info.builtin else "external"]
            for info in sorted(catalog.host.plugins.values(), key=lambda i: (not i.builtin, i.name))
        ]
        print(tabulate(rows, headers=["plugin", "distribution", "version", "kind"]))
        return EXIT_OK
    registry = catalog.of_kind(args.kind)
    rows = []
    for name in registry.names(args.include):
        entry = registry.entry(name)
        params = getattr(entry.spec, "params", {})
        defaults = ", ".join(f"{k}={v.default}" for k, v in params.items())
        rows.append(
            [name, entry.spec.description, entry.plugin.name, entry.plugin.version, defaults]
        )
    if args.include == "*":
        for family, plugin in registry.families():
            rows.append(
                [
                    f"{family.prefix}*",
                    f"{family.description} (list them with --include '{family.prefix}*')",
                    plugin.name,
                    plugin.version,
                    "",
                ]
            )
    if not rows:
        raise DlbenchError(
            f"no {args.kind} match {args.include!r}; all: {', '.join(registry.names())}"
        )
    print(
        tabulate(
            rows,
            headers=["name", "description", "plugin", "version", "parameters"],
            maxcolwidths=[None, 40, None, None, 50],
        )
    )
    return EXIT_OK


def command_report(args: argparse.Namespace) -> int:
    """``bench report DIR``: redraw the tables from stored records, without training."""
    from bench.store import ResultStore
    from reports.markdown import write_report

    if not args.directory.is_dir():
        raise DlbenchError(f"{args.directory}: not a directory")
    print(write_report(ResultStore(args.directory)))
    return EXIT_OK


def command_perf(args: argparse.Namespace) -> int:
    """``bench perf``: the engine against a lab-style loop, for speed or, with ``--accuracy``,
    for accuracy on real MNIST."""
    from bench import perf_command
    from bench.engine.device import set_threads

    if args.scale <= 0:
        raise DlbenchError(f"--scale {args.scale:g}: expected a number > 0")
    require_at_least("--rounds", args.rounds, 1)
    require_at_least("--epochs", args.epochs, 1)
    # The accuracy check's interval needs two seeds a side.
    require_at_least("--seeds", args.seeds, 2)
    require_at_least("--threads", args.threads, 1)
    threads = set_threads(args.threads)
    if args.accuracy:
        return perf_command.accuracy(
            data_root(args), args.download, args.epochs, args.seeds, threads
        )
    return perf_command.speed(args.scale, args.rounds, not args.no_cnn, threads)


def command_compare(args: argparse.Namespace) -> int:
    """``bench compare RUN BASELINE``: a table of every metric; exit 1 on a regression."""
    from reports.compare import Tolerance, compare, load_baseline

    for value, option in (
        (args.accuracy_tolerance, "--accuracy-tolerance"),
        (args.loss_tolerance, "--loss-tolerance"),
        (args.time, "--time"),
    ):
        if value is not None and value < 0:
            raise DlbenchError(f"{option} {value}: expected a number >= 0")
    if not args.run.is_dir():
        raise DlbenchError(f"{args.run}: not a results directory")
    tolerance = Tolerance(args.accuracy_tolerance, args.loss_tolerance, args.time or 0.0)
    rows, regressions = compare(
        args.run, load_baseline(args.baseline), tolerance, with_time=args.time is not None
    )
    print(
        tabulate(
            rows,
            headers=["cell", "metric", "baseline", "now", "change", "verdict"],
            tablefmt="pipe",
            disable_numparse=True,
        )
    )
    print(f"\n{regressions} regression(s) in {len(rows)} comparison(s)")
    return EXIT_FAILED_CELLS if regressions else EXIT_OK


def command_baseline(args: argparse.Namespace) -> int:
    """``bench baseline export RUN FILE``: the run's metrics, small enough to commit."""
    from bench.store import write_atomic
    from reports.compare import export_baseline

    if not args.run.is_dir():
        raise DlbenchError(f"{args.run}: not a results directory")
    data = export_baseline(args.run)
    write_atomic(args.file, json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"{len(data['cells'])} cell(s) written to {args.file}")
    return EXIT_OK


COMMANDS = {
    "run": command_run,
    "list": command_list,
    "report": command_report,
    "perf": command_perf,
    "compare": command_compare,
    "baseline": command_baseline,
}


if __name__ == "__main__":
    sys.exit(main())
