"""The ``bench`` command line: one module per subcommand, each adding its own parser."""

from __future__ import annotations

import argparse
import signal
import sys
import warnings
from collections.abc import Sequence
from types import FrameType
from typing import Any, NoReturn

from dlbench.bench.cli import baseline, compare, listing, perf, report, run
from dlbench.bench.cli.common import EXIT_USAGE, ArgumentParser
from dlbench.registry.errors import DlbenchError

#: Exit codes of the signals that stop a run: 128 + the signal's number.
EXIT_INTERRUPTED = 130
SUBCOMMANDS = (run, listing, report, compare, baseline, perf)


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is, so it stops like Ctrl-C does.

    :param code: the exit code, 128 + the signal's number.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.code = 128 + signum


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
    for module in SUBCOMMANDS:
        module.add_parser(commands, [debug])
    return parser


def _stop(signum: int, frame: FrameType | None) -> NoReturn:
    raise Stopped(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    args = argparse.Namespace(debug=False)
    try:
        args = build_parser().parse_args(argv)
        warnings.showwarning = _show_warning
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


def _show_warning(message: Warning | str, *args: Any, **kwargs: Any) -> None:
    print(f"bench: warning: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
