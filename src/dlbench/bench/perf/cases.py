"""What ``bench perf`` times: models from the plugin catalog on MNIST- and CIFAR-shaped data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import torch
from torch import nn

from dlbench.engine.optim import TRAINING_PARAMS, make_optimizer
from dlbench.registry.catalog import Catalog
from dlbench.registry.params import resolve_params

#: Batches the engine trains on before each timing (a warm-up, left out of the speed).
WARM_UP_BATCHES = 2


@dataclass(frozen=True)
class Case:
    """One model and data shape to time.

    :param kind: ``mlp`` or ``cnn``.
    :param images: how many training images one timing sees.
    :param device: where both sides train (``cpu`` or ``cuda``).
    """

    name: str
    kind: str
    build: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    batch_size: int
    images: int
    device: str = "cpu"

    def model(self, seed: int = 0) -> nn.Module:
        """A new model with the initial weights of ``seed``, the same for every side."""
        torch.manual_seed(seed)
        return self.build().to(self.device)


def builder(
    catalog: Catalog, name: str, input_shape: tuple[int, ...], **params: object
) -> Callable[[], nn.Module]:
    """A function building the catalog's model ``name`` for ``input_shape`` and 10 classes,
    with ``params`` over its defaults (checked like a matrix's)."""
    spec = catalog.models.get(name)
    resolved = resolve_params(spec.params, params, f"model {name!r}")
    return partial(spec.build, input_shape, 10, **resolved)


def engine_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    """The engine's default optimizer (Adam at 1e-3, fused) for ``model`` on its device."""
    params = resolve_params(TRAINING_PARAMS, {}, "perf")
    device = next(model.parameters()).device
    return make_optimizer(model.parameters(), params, device)


def mlp_case(catalog: Catalog, depth: int, images: int) -> Case:
    """The lab's MLP (512 wide) of ``depth`` on MNIST-shaped data, batch 64."""
    return Case(
        f"MLP depth {depth}, 28x28, bs 64",
        "mlp",
        builder(catalog, "mlp", (1, 28, 28), depth=depth, hidden=512),
        (1, 28, 28),
        64,
        images,
    )


def cnn_case(catalog: Catalog, images: int) -> Case:
    """The residual CNN of Exercise 1.3 (5 blocks per stage of 64-512 channels), batch 128."""
    return Case(
        "residual CNN 5x[64..512], 32x32, bs 128",
        "cnn",
        builder(
            catalog,
            "residual_cnn",
            (3, 32, 32),
            blocks=5,
            channels=[64, 128, 256, 512],
            shortcut="projection",
        ),
        (3, 32, 32),
        128,
        images,
    )


def cases(catalog: Catalog, scale: float, device: str = "cpu") -> list[Case]:
    """MLPs of depth 2 and 10 on MNIST-shaped data, a 5-block residual CNN on CIFAR-shaped;
    on a GPU, which is far faster, with more images."""
    gpu = 8 if device == "cuda" else 1
    found = [
        mlp_case(catalog, 2, int(12800 * scale * gpu)),
        mlp_case(catalog, 10, int(3200 * scale * gpu)),
        cnn_case(catalog, max(384, int(512 * scale * gpu))),
    ]
    return [replace(case, device=device) for case in found]


def synthetic(case: Case, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images (H, W) or (H, W, C) and labels."""
    rng = np.random.default_rng(0)
    channels, height, width = case.input_shape
    shape = (count, height, width) if channels == 1 else (count, height, width, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8), rng.integers(0, 10, count)
