"""The ``bench`` console script. Signals wait while the program loads (importing torch takes a
few seconds, and an interrupt landing inside a library's import can leave it half loaded), then
a pending Ctrl-C, SIGTERM or SIGHUP stops the command with one line, like one that comes later."""

from __future__ import annotations

import signal
import sys

from dlbench.bench.signals import EXIT_INTERRUPTED, STOPPING, Stopped, stop


def main() -> int:
    """Load the command line with stopping signals held, then run it."""
    held = hasattr(signal, "pthread_sigmask")
    if held:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING)
    try:
        try:
            from dlbench.bench.cli import main as command_line

            for signum in (signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, stop)
        finally:
            if held:
                # A signal that came while loading is delivered here.
                signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPING)
    except KeyboardInterrupt as exc:
        print(f"bench: stopped ({str(exc) or 'interrupted'}) while starting", file=sys.stderr)
        return exc.code if isinstance(exc, Stopped) else EXIT_INTERRUPTED
    return command_line()


if __name__ == "__main__":
    sys.exit(main())
