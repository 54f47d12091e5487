"""Multilayer perceptrons, plain and residual, for any input shape (inputs are flattened)."""

from __future__ import annotations

import math

import torch
from torch import nn

from dlbench import ModelSpec, Param, Register, hookimpl

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


class HiddenBlock(nn.Sequential):
    """A hidden Linear layer and its activation; counted as one block by the model card."""

    dlbench_block = True


class MLP(nn.Module):
    """``depth`` Linear layers: input -> hidden, ``depth - 2`` hidden -> hidden, hidden -> classes.

    With ``residual=True`` each hidden -> hidden layer is wrapped in a skip connection,
    ``h = h + act(W h)``, which keeps a direct gradient path through deep stacks.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        depth: int,
        hidden: int,
        activation: str,
        residual: bool,
    ) -> None:
        super().__init__()
        act = ACTIVATIONS[activation]
        self.residual = residual
        self.stem = nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), act())
        self.blocks = nn.ModuleList(
            HiddenBlock(nn.Linear(hidden, hidden), act()) for _ in range(depth - 2)
        )
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Class logits for a batch."""
        hidden = self.stem(inputs)
        for block in self.blocks:
            hidden = hidden + block(hidden) if self.residual else block(hidden)
        logits: torch.Tensor = self.head(hidden)
        return logits


MLP_PARAMS = {
    "depth": Param(
        2, int, "number of Linear layers (2 = input->hidden->classes)", minimum=2, maximum=1000
    ),
    "hidden": Param(512, int, "hidden width", minimum=1, maximum=65536),
    "activation": Param("relu", str, "activation", choices=tuple(ACTIVATIONS)),
}


def build_mlp(
    input_shape: tuple[int, ...], num_classes: int, *, depth: int, hidden: int, activation: str
) -> MLP:
    """A plain MLP for ``input_shape`` and ``num_classes``."""
    return MLP(math.prod(input_shape), num_classes, depth, hidden, activation, residual=False)


def build_residual_mlp(
    input_shape: tuple[int, ...], num_classes: int, *, depth: int, hidden: int, activation: str
) -> MLP:
    """An MLP with skip connections around its hidden layers."""
    return MLP(math.prod(input_shape), num_classes, depth, hidden, activation, residual=True)


def mlp_parameters(
    input_shape: tuple[int, ...], num_classes: int, *, depth: int, hidden: int, **_: object
) -> int:
    """Weights and biases of an MLP, without building it."""
    return (
        (math.prod(input_shape) + 1) * hidden
        + (depth - 2) * (hidden + 1) * hidden
        + (hidden + 1) * num_classes
    )


@hookimpl
def dlbench_register_models(register: Register[ModelSpec]) -> None:
    """Register ``mlp`` and ``residual_mlp``."""
    register(
        ModelSpec(
            name="mlp",
            build=build_mlp,
            description="plain multilayer perceptron",
            params=MLP_PARAMS,
            parameter_count=mlp_parameters,
        )
    )
    register(
        ModelSpec(
            name="residual_mlp",
            build=build_residual_mlp,
            description="multilayer perceptron with skip connections around hidden layers",
            params=MLP_PARAMS,
            parameter_count=mlp_parameters,
        )
    )
