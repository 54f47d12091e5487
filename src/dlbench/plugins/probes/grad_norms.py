"""Per-layer gradient norms at chosen training steps: why do residual connections help?

In a deep plain network the gradient reaching the first layers shrinks (or explodes) layer by
layer; skip connections keep it flowing. This probe records the L2 norm of the gradient of every
convolution and linear weight, in forward order, after the backward pass of the chosen steps.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dlbench import Param, ProbePlot, ProbeSpec, Register, hookimpl

LAYER_TYPES = (nn.Linear, nn.modules.conv._ConvNd)


class GradientNorms:
    """Records ``[layer name, gradient norm]`` for each weighted layer at each chosen step:
    one plot panel per step, one point per layer."""

    def __init__(self, steps: tuple[int, ...]) -> None:
        self.steps = frozenset(steps)
        self._observed: dict[str, list[list[Any]]] = {}

    @torch.no_grad()
    def observe(self, model: nn.Module, step: int, epoch: int) -> None:
        """Norm of each layer's weight gradient, in the order the layers were defined."""
        norms = [
            (name, module.weight.grad.norm())
            for name, module in model.named_modules()
            if isinstance(module, LAYER_TYPES) and module.weight.grad is not None
        ]
        # One host transfer for all layers.
        values = torch.stack([norm for _, norm in norms]).tolist() if norms else []
        self._observed[str(step)] = [
            [name, value] for (name, _), value in zip(norms, values, strict=True)
        ]

    def result(self) -> dict[str, Any]:
        """``{"panels": {step: [[layer, norm], ...]}}``."""
        return {"panels": dict(self._observed)}


def create_gradient_norms(*, steps: tuple[int, ...]) -> GradientNorms:
    """A gradient-norm probe for one cell."""
    return GradientNorms(tuple(steps))


@hookimpl
def dlbench_register_probes(register: Register[ProbeSpec]) -> None:
    """Register ``grad_norms``."""
    register(
        ProbeSpec(
            name="grad_norms",
            create=create_gradient_norms,
            description="L2 norm of each layer's weight gradient at chosen steps",
            params={
                "steps": Param(
                    (1, 100), int, "training steps to record (from 1)", minimum=1, sequence=True
                )
            },
            plot=ProbePlot(
                title="gradient norm by layer depth",
                x_label="layer depth (input to output)",
                y_label="weight-gradient L2 norm",
                log_y=True,
                panel_label="step",
            ),
        )
    )
