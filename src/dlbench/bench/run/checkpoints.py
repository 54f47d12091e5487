"""Checkpoints: a model's weights with what is needed to rebuild it, loaded safely."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlbench.registry.cell import Cell
from dlbench.registry.errors import DlbenchError

FORMAT = "dlbench-checkpoint/1"


def write_checkpoint(
    path: Path, cell: Cell, model: nn.Module, input_shape: tuple[int, ...], num_classes: int
) -> None:
    """Save ``model``'s weights (on the CPU) with the cell and shapes that built it."""
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    torch.save(
        {
            "format": FORMAT,
            "cell": cell.to_json(),
            "input_shape": list(input_shape),
            "num_classes": num_classes,
            "state_dict": state,
        },
        path,
    )


def read_checkpoint(path: Path, device: torch.device) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; anything else is a clear error."""
    try:
        data = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise DlbenchError(f"{path}: checkpoint not found") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DlbenchError(f"{path}: not a readable dlbench checkpoint ({reason})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DlbenchError(f"{path}: not a dlbench checkpoint (expected format {FORMAT!r})")
    return data
