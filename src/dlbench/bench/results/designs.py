"""The results directory's stored designs (``designs.json``): each decided comparison's
design, written at its first look and read back, verified, at every later run."""

from __future__ import annotations

import json
from typing import Any

from dlbench.bench.results.files import read_json, write_atomic
from dlbench.bench.results.store import DESIGNS, ResultStore
from dlbench.registry.errors import DlbenchError


def read_designs(store: ResultStore) -> dict[str, Any]:
    """Comparison key -> its stored design (empty when none is stored). A damaged file is an
    error: the designs guard the decisions' error rates, so they are never guessed."""
    path = store.root / DESIGNS
    if not path.exists():
        return {}
    if not path.resolve().is_relative_to(store.root.resolve()):
        raise DlbenchError(f"{path}: a link to outside the results directory; not read")
    try:
        data = read_json(path)
    except (OSError, ValueError) as exc:
        raise DlbenchError(f"{path}: unreadable stored designs: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise DlbenchError(f"{path}: unreadable stored designs: not a JSON object of objects")
    return data


def write_designs(store: ResultStore, designs: dict[str, Any]) -> None:
    """Store the decided comparisons' designs (atomically, never through a link)."""
    write_atomic(store.target(DESIGNS), json.dumps(designs, indent=2, sort_keys=True))
