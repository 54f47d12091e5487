"""An example dlbench plugin: one model and one dataset, registered through the public hooks."""

from __future__ import annotations

import math

import torch
from torch import nn

from dlbench import (
    SPLIT_PARAMS,
    DatasetRequest,
    DatasetSpec,
    DatasetSplits,
    ModelSpec,
    Param,
    Register,
    Split,
    hookimpl,
    make_splits,
    split_off,
)


def build_wide_linear(
    input_shape: tuple[int, ...], num_classes: int, *, width: int, dropout: float
) -> nn.Module:
    """One wide hidden layer with dropout, for any input shape."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(math.prod(input_shape), width),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(width, num_classes),
    )


def load_blobs(request: DatasetRequest) -> DatasetSplits:
    """Gaussian blobs in 16 dimensions, 4 classes, drawn from a fixed seed (nothing to download)."""
    generator = torch.Generator().manual_seed(1234)
    centres = torch.randn(4, 16, generator=generator) * 3
    targets = torch.arange(1000) % 4
    inputs = centres[targets] + torch.randn(1000, 16, generator=generator)
    rest, test = split_off(Split(inputs, targets), 0.2, request.params["split_seed"])
    return make_splits(rest, test, scale=1.0, num_classes=4, params=request.params)


@hookimpl
def dlbench_register_models(register: Register[ModelSpec]) -> None:
    """Register ``wide_linear``."""
    register(
        ModelSpec(
            "wide_linear",
            build_wide_linear,
            "one wide hidden layer with dropout",
            {
                "width": Param(1024, int, "hidden width", minimum=1),
                "dropout": Param(0.1, float, "dropout", minimum=0, maximum=1),
            },
        )
    )


@hookimpl
def dlbench_register_datasets(register: Register[DatasetSpec]) -> None:
    """Register ``blobs``."""
    register(
        DatasetSpec("blobs", load_blobs, "Gaussian blobs, 16-d, 4 classes", (16,), 4, SPLIT_PARAMS)
    )
