"""``--set KEY=VALUE`` overrides of a matrix, applied after its defaults are merged.

KEY reaches what a matrix file sets per experiment: a component's parameter (``model.depth``),
a parameter in a per-name block (``model.residual_mlp.depth``), ``seeds``, ``repeats``, a probe's
parameter (``probes.grad_norms.every``), ``title`` and ``description``; prefixed with
``defaults.`` (the same as none) or ``experiments.NAME.`` for one experiment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dlbench.bench.matrix.yamlfile import parse_value, shown
from dlbench.registry.cell import COMPONENT_KINDS
from dlbench.registry.errors import DlbenchError, closest

ACCEPTED = (
    "model.KEY, dataset.KEY, strategy.KEY (or model.NAME.KEY for a per-name block), seeds, "
    "repeats, vary, probes.NAME.KEY, title, description, each optionally prefixed with "
    "defaults. or "
    "experiments.NAME."
)
#: Keys that take a value directly (no parameter inside them).
WHOLE_KEYS = ("seeds", "repeats", "vary", "title", "description")
#: The first word of every key ``--set`` accepts.
FIRST_WORDS = (*COMPONENT_KINDS, *WHOLE_KEYS, "probes", "defaults", "experiments")


@dataclass(frozen=True)
class Override:
    """One ``--set``.

    :param experiment: the experiment it applies to, or ``None`` for all of them.
    :param section: ``model``, ``dataset``, ``strategy``, ``probes``, or one of
        ``WHOLE_KEYS``.
    :param key: the parameter within the section: ``depth``, or ``NAME.depth`` for a per-name
        block (for ``probes``: ``PROBE.KEY``); ``None`` for the whole keys.
    :param value: the value, parsed as YAML (``1``, ``1e-3``, ``[2, 4]``, ``adam``).
    :param text: the option as given, for error messages.
    """

    experiment: str | None
    section: str
    key: str | None
    value: Any
    text: str

    @property
    def block(self) -> tuple[str, str] | None:
        """``(name, parameter)`` when the key is in a per-name block, else ``None``."""
        if self.key is None or "." not in self.key:
            return None
        name, _, parameter = self.key.partition(".")
        return name, parameter


def parse_override(text: str) -> Override:
    """Parse ``KEY=VALUE``; a bad one is a ``DlbenchError`` naming the accepted keys."""
    path, sep, raw = text.partition("=")
    if not sep or not path.strip():
        raise DlbenchError(f"--set {shown(text)}: expected KEY=VALUE with KEY one of {ACCEPTED}")
    value = parse_value(raw, f"--set {shown(path.strip() + '=')}") if raw.strip() else None
    parts = path.strip().split(".")
    experiment: str | None = None
    if parts[0] == "defaults":
        parts = parts[1:]
    elif parts[0] == "experiments" and len(parts) >= 3:
        experiment, parts = parts[1], parts[2:]
    parsed = _parse_key(parts, experiment, value, text)
    if parsed is not None:
        return parsed
    raise DlbenchError(
        f"--set {shown(text)}: unknown key {shown(path.strip())}; {_hint(path.strip())}"
    )


def _parse_key(parts: list[str], experiment: str | None, value: Any, text: str) -> Override | None:
    if not parts or not all(parts):
        return None
    if len(parts) == 1 and parts[0] in WHOLE_KEYS:
        return Override(experiment, parts[0], None, value, text)
    if parts[0] in COMPONENT_KINDS and len(parts) in (2, 3):
        return Override(experiment, parts[0], ".".join(parts[1:]), value, text)
    if parts[0] == "probes" and len(parts) == 3:
        return Override(experiment, "probes", ".".join(parts[1:]), value, text)
    return None


def _hint(path: str) -> str:
    """A did-you-mean for a misspelt first word, and the experiment-name rule where it applies."""
    parts = path.split(".")
    if parts[0] == "experiments":
        return (
            "for one experiment write experiments.NAME.KEY; experiment names have no dots "
            "(letters, digits, '_' and '-'), and KEY is one of " + ACCEPTED.split(", each")[0]
        )
    close = closest(parts[0], FIRST_WORDS)
    if close and close[0] != parts[0]:
        return f"did you mean {'.'.join([close[0], *parts[1:]])!r}? accepted: {ACCEPTED}"
    return f"accepted: {ACCEPTED}"
