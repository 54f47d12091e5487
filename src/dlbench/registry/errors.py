"""Errors a user can cause and fix; the command line prints them as one line and exits 2."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from importlib import metadata


def closest(word: object, choices: Iterable[object], most: int = 1) -> list[str]:
    """The ``most`` choices closest to ``word`` (none when nothing is close)."""
    return difflib.get_close_matches(
        str(word), [str(c) for c in choices], n=most, cutoff=0.5 if most > 1 else 0.6
    )


def did_you_mean(word: object, choices: Iterable[object], most: int = 1) -> str:
    """``did you mean 'margin'?`` (or ``'a' or 'b'``) for the choices closest to ``word``; empty
    when none is close. Every "unknown X" message of dlbench says it this way."""
    close = closest(word, choices, most)
    return f"did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


class DlbenchError(Exception):
    """A bad input: the message says what is wrong, where, and what is accepted."""


def install_hint(extra: str) -> str:
    """How to install what dlbench's optional ``extra`` brings, for a "needs X" message:
    ``pip install 'optuna>=3.4' (dlbench's 'tune' extra; in its checkout: pip install '.[tune]')``.

    The requirements are read from the installed distribution's metadata, so the hint names
    exactly what ``pyproject.toml`` declares; dlbench installs from a checkout of its repository,
    so ``pip install 'dlbench[tune]'`` would not find it.
    """
    try:
        declared = metadata.requires("dlbench") or []
    except metadata.PackageNotFoundError:
        declared = []
    marker = re.compile(rf"""extra\s*==\s*["']{re.escape(extra)}["']""")
    wanted = [req.split(";")[0].strip() for req in declared if marker.search(req)]
    packages = " ".join(f"'{req}'" for req in wanted)
    checkout = f"pip install '.[{extra}]'"
    if not packages:
        return f"{checkout} in dlbench's checkout"
    return f"pip install {packages} (dlbench's {extra!r} extra; in its checkout: {checkout})"


class UnknownNameError(DlbenchError, KeyError):
    """A name that no plugin registered; the message lists close matches and the choices."""

    def __init__(
        self, kind: str, name: str, choices: Iterable[str], failed: Iterable[str] = ()
    ) -> None:
        self.kind = kind
        self.name = name
        self.choices = sorted(choices)
        hint = did_you_mean(name, self.choices, most=3)
        hint = f"{hint} " if hint else ""
        listed = ", ".join(self.choices) if self.choices else "none registered"
        failures = list(failed)
        # A plugin that failed to load may be the one that provides the name: say so first.
        lead = f"; {failures[0]}, and may provide it" if failures else ""
        more = f" ({len(failures) - 1} more plugin(s) failed too)" if len(failures) > 1 else ""
        super().__init__(f"unknown {kind} {name!r}{lead}{more}; {hint}choices: {listed}")

    def __str__(self) -> str:
        # KeyError.__str__ would wrap the message in quotes.
        return str(self.args[0])


class DuplicateNameError(DlbenchError):
    """Two plugins registered the same name for the same kind."""


class PluginLoadError(DlbenchError):
    """An external plugin could not be imported or registered."""


class DataUnavailableError(DlbenchError):
    """A dataset's files are missing or unreadable and could not be downloaded."""


class ConformanceError(AssertionError):
    """A plugin does not do what the contract asks (raised by the conformance kit and by
    registration checks); an ``AssertionError``, so pytest shows it as a test failure."""
