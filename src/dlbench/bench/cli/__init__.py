"""The ``bench`` command line: one module per subcommand, each adding its own parser."""

from __future__ import annotations

import argparse
import functools
import signal
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from dlbench.bench.cli import baseline, compare, export, listing, perf, report, run, schema
from dlbench.bench.cli.common import EXIT_USAGE, ArgumentParser
from dlbench.bench.signals import EXIT_INTERRUPTED, Stopped, stop
from dlbench.registry.errors import DlbenchError
from dlbench.registry.manager import dlbench_version

SUBCOMMANDS = (run, listing, report, export, compare, baseline, perf, schema)


def build_parser() -> ArgumentParser:
    """The parser for every subcommand."""
    parser = ArgumentParser(prog="bench", description="Run deep-learning benchmark matrices.")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks for errors and for failed cells"
    )
    parser.add_argument(
        "--version", action="version", version=f"bench (dlbench) {dlbench_version()}"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    # ``--debug`` is also accepted after the subcommand, without showing in its help.
    debug = ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    for module in SUBCOMMANDS:
        module.add_parser(commands, [debug])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    args = argparse.Namespace(debug=False)
    try:
        args = build_parser().parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)
        with warnings.catch_warnings():
            # A warning is one line on stderr, never an exception, whatever filters are set.
            warnings.simplefilter("default")
            warnings.showwarning = functools.partial(_show_warning, debug=args.debug)
            code: int = args.handler(args)
        return code
    except DlbenchError as exc:
        if args.debug:
            raise
        print(f"bench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        if args.debug:
            raise
        if not getattr(exc, "reported", False):
            print(f"bench: stopped ({_signal_name(exc)})", file=sys.stderr)
        return exc.code if isinstance(exc, Stopped) else EXIT_INTERRUPTED
    except OSError as exc:
        # A full disk or a read-only folder met outside a cell: one line, not a traceback.
        if args.debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"bench: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _signal_name(exc: KeyboardInterrupt) -> str:
    return str(exc) if isinstance(exc, Stopped) else "interrupted"


def _show_warning(message: Warning | str, *args: Any, debug: bool = False, **kwargs: Any) -> None:
    print(f"bench: warning: {message}", file=sys.stderr)
    trace = getattr(message, "traceback", "")
    if debug and trace:
        print(trace.rstrip(), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
