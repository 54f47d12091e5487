"""``--set KEY=VALUE`` overrides of a matrix, applied after its defaults are merged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from dlbench.registry.cell import COMPONENT_KINDS
from dlbench.registry.errors import DlbenchError

ACCEPTED = (
    "model.KEY, dataset.KEY, strategy.KEY, seeds, defaults.<same>, or experiments.NAME.<same>"
)


@dataclass(frozen=True)
class Override:
    """One ``--set``.

    :param experiment: the experiment it applies to, or ``None`` for all of them.
    :param section: ``model``, ``dataset``, ``strategy`` or ``seeds``.
    :param key: the parameter (or ``name``) within the section; ``None`` for ``seeds``.
    :param value: the value, parsed as YAML (``1``, ``1e-3``, ``[2, 4]``, ``adam``).
    :param text: the option as given, for error messages.
    """

    experiment: str | None
    section: str
    key: str | None
    value: Any
    text: str


def parse_override(text: str) -> Override:
    """Parse ``KEY=VALUE``; a bad one is a :class:`DlbenchError` naming the accepted keys."""
    path, sep, raw = text.partition("=")
    if not sep or not path.strip():
        raise DlbenchError(f"--set {text!r}: expected KEY=VALUE with KEY one of {ACCEPTED}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise DlbenchError(f"--set {text!r}: the value is not valid YAML") from None
    parts = path.strip().split(".")
    experiment: str | None = None
    if parts[0] == "defaults":
        parts = parts[1:]
    elif parts[0] == "experiments" and len(parts) >= 3:
        experiment, parts = parts[1], parts[2:]
    if parts == ["seeds"]:
        return Override(experiment, "seeds", None, value, text)
    if len(parts) == 2 and parts[0] in COMPONENT_KINDS and parts[1]:
        return Override(experiment, parts[0], parts[1], value, text)
    raise DlbenchError(f"--set {text!r}: unknown key {path!r}; accepted: {ACCEPTED}")
