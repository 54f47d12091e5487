"""A model's card: parameters, layers and blocks, counted from the built model."""

from __future__ import annotations

from typing import Any

from torch import nn


def model_card(model: nn.Module) -> dict[str, Any]:
    """Parameters (all and trainable), conv and linear layers, and blocks of ``model``.

    Blocks are the submodules that mark themselves with ``dlbench_block = True``.
    """
    modules = list(model.modules())
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "conv_layers": sum(isinstance(m, nn.modules.conv._ConvNd) for m in modules),
        "linear_layers": sum(isinstance(m, nn.Linear) for m in modules),
        "blocks": sum(bool(getattr(m, "dlbench_block", False)) for m in modules),
    }
