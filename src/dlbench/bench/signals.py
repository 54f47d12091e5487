"""How a signal stops the ``bench`` command: Ctrl-C, SIGTERM and SIGHUP raised where the program
is, with the exit code each ends in."""

from __future__ import annotations

import signal
from types import FrameType
from typing import NoReturn

#: Signals that stop a run: held while loading, then raised as ``Stopped`` or
#: ``KeyboardInterrupt`` where the program is.
STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
EXIT_INTERRUPTED = 130


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is, so it stops like Ctrl-C does.

    :param code: the exit code, 128 + the signal's number.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.code = 128 + signum


def stop(signum: int, frame: FrameType | None) -> NoReturn:
    """A signal handler raising ``Stopped``."""
    raise Stopped(signum)
