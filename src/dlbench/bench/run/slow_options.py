"""Options a device cannot run fast (bf16 where it has no native bfloat16): said before any
training, and run only when the user asks for them.

The decision is the device's detected capability alone (CPU flags, oneDNN's instruction-set
cap), never a timing, so that ``--dry-run`` and the run always agree; the measured slowdown
only goes into the message."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from dlbench.engine.capability import bf16_slowdown, detect
from dlbench.registry.cell import Cell


def slow_cells(cells: Iterable[Cell], device: torch.device) -> tuple[list[Cell], str]:
    """The cells asking for bf16 where ``device`` has no native bfloat16, and why."""
    wanted = [c for c in cells if c.strategy.params.get("precision") == "bf16"]
    if not wanted:
        return [], ""
    capability = detect(device)
    if capability.bf16_fast or device.type != "cpu":
        return [], ""
    reason = (
        f"precision bf16 is not native on this {capability.describe()}: a bf16 matrix product "
        f"measured {bf16_slowdown():.0f}x slower than fp32 here"
    )
    return wanted, reason
