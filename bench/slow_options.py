"""Options a device cannot run fast (bf16 where it has no native bfloat16): said before any
training, and run only when the user asks for them."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from dlbench.engine.capability import bf16_slowdown, detect
from dlbench.registry.cell import Cell

#: A precision this many times slower than fp32 counts as slow.
SLOW_FACTOR = 2.0


def slow_cells(cells: Iterable[Cell], device: torch.device) -> tuple[list[Cell], str]:
    """The cells asking for bf16 where ``device`` runs it slowly, and why (measured here)."""
    wanted = [c for c in cells if c.strategy.params.get("precision") == "bf16"]
    if not wanted:
        return [], ""
    capability = detect(device)
    if capability.bf16_fast or device.type != "cpu":
        return [], ""
    slowdown = bf16_slowdown()
    if slowdown <= SLOW_FACTOR:
        return [], ""
    reason = (
        f"precision bf16 is not native on this {capability.describe()}: a bf16 matrix product "
        f"measured {slowdown:.0f}x slower than fp32 here"
    )
    return wanted, reason
