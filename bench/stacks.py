"""Which cells train stacked: seeds of one configuration whose strategy, model and settings allow
it (see :mod:`dlbench.engine.stacked`), as an execution detail that changes no cell's identity."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dlbench.engine.stacked import stack_problem
from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import Cell, Component

#: ``--stack``: ``auto`` stacks on a GPU (where small steps are launch-bound) and not on a CPU
#: (where it measured slower), ``on`` and ``off`` decide for every device.
POLICIES = ("auto", "on", "off")


@dataclass(frozen=True)
class Stacks:
    """The stacks of a run and why the other seed groups train one at a time.

    :param groups: leader cell id -> every cell of its stack (the leader first).
    :param refused: a description of a seed group -> why it is not stacked.
    """

    groups: Mapping[str, tuple[Cell, ...]]
    refused: Mapping[str, str]

    def member_of(self, cell_id: str) -> str | None:
        """The leader of the stack ``cell_id`` is in (not leading), or ``None``."""
        for leader, cells in self.groups.items():
            if leader != cell_id and any(c.id == cell_id for c in cells):
                return leader
        return None


def plan_stacks(
    cells: Sequence[Cell],
    catalog: Catalog,
    probes: Mapping[str, tuple[Component, ...]],
    enabled: bool,
) -> Stacks:
    """Group ``cells`` that differ only in their seed into stacks where everything allows it."""
    groups: dict[str, list[Cell]] = {}
    for cell in cells:
        key = json.dumps({**cell.to_json(), "seed": None}, sort_keys=True)
        groups.setdefault(key, []).append(cell)
    stacks: dict[str, tuple[Cell, ...]] = {}
    refused: dict[str, str] = {}
    for group in groups.values():
        if len(group) < 2:
            continue
        # What would keep the group apart even with --stack on comes first, so that the hint
        # to turn stacking on is given only where it would take effect.
        reason = _refusal(group, catalog, probes)
        if reason is None and not enabled:
            reason = "stacking is off (--stack on turns it on)"
        if reason is None:
            stacks[group[0].id] = tuple(group)
        else:
            seeds = ", ".join(str(c.seed) for c in group)
            refused[f"{group[0].describe().rsplit(', seed', 1)[0]}, seeds {seeds}"] = reason
    return Stacks(stacks, refused)


def _refusal(
    group: Sequence[Cell], catalog: Catalog, probes: Mapping[str, tuple[Component, ...]]
) -> str | None:
    cell = group[0]
    strategy = catalog.strategies.get(cell.strategy.name)
    params = cell.strategy.params
    if not strategy.stackable:
        return f"strategy {cell.strategy.name!r} has not opted in to stacking"
    if any(probes.get(c.id) for c in group):
        return "probes observe one model at a time"
    if params.get("precision", "fp32") != "fp32" or params.get("channels_last"):
        return "only fp32 without channels_last stacks"
    if params.get("schedule", "none") != "none":
        return "a learning-rate schedule steps per model"
    if cell.dataset.params.get("augment", "none") not in (None, "none"):
        return "augmentation draws its randomness per model"
    dataset = catalog.datasets.get(cell.dataset.name)
    classes = cell.dataset.params.get("classes")
    count = len(classes) if isinstance(classes, list) and classes else dataset.num_classes
    try:
        model = catalog.models.get(cell.model.name).build(
            tuple(dataset.input_shape), count, **cell.model.params
        )
    except Exception as exc:  # the real run will say what is wrong
        return f"the model could not be built to check ({type(exc).__name__})"
    problem = stack_problem(model)
    return f"model {cell.model.name!r}: {problem}" if problem else None
