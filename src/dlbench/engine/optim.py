"""Optimizers and learning-rate schedules by name, and the training parameters strategies share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

from dlbench.registry.params import Param

TRAINING_PARAMS: dict[str, Param] = {
    "epochs": Param(10, int, "training epochs", minimum=1),
    "batch_size": Param(64, int, "training batch size", minimum=1),
    "eval_batch_size": Param(1024, int, "batch size for validation and test", minimum=1),
    "optimizer": Param("adam", str, "optimizer", choices=("adam", "adamw", "sgd")),
    "lr": Param(1e-3, float, "learning rate", minimum=0, exclusive_minimum=True),
    "momentum": Param(0.0, float, "SGD momentum", minimum=0, maximum=1),
    "nesterov": Param(False, bool, "SGD Nesterov momentum (needs momentum > 0)"),
    "weight_decay": Param(0.0, float, "weight decay", minimum=0),
    "schedule": Param(
        "none", str, "learning-rate schedule, stepped per epoch", choices=("none", "cosine", "step")
    ),
    "step_size": Param(10, int, "epochs between decays for schedule 'step'", minimum=1),
    "precision": Param(
        "fp32",
        str,
        "fp32, or bf16 autocast for the training step (changes results)",
        choices=("fp32", "bf16"),
    ),
    "channels_last": Param(False, bool, "channels-last memory format for image models"),
    "gamma": Param(
        0.1, float, "decay factor for schedule 'step'", minimum=0, exclusive_minimum=True
    ),
}
"""The training loop's parameters (epochs, batch sizes, optimizer, learning rate, momentum,
weight decay, schedule, precision, memory layout), which a strategy built on the loop declares
among its own: ``StrategySpec(params={**dlbench.TRAINING_PARAMS, ...})``."""


def make_optimizer(
    parameters: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
    params: Mapping[str, Any],
    device: torch.device,
) -> torch.optim.Optimizer:
    """The optimizer named by ``params['optimizer']``, fused where torch offers it.

    :param parameters: the parameters (a model's, or the stacked tensors of several), or
        parameter groups with their own ``lr``.
    """
    fused = device.type in {"cpu", "cuda"}
    name = params["optimizer"]
    lr, weight_decay = params["lr"], params["weight_decay"]
    if name == "sgd":
        if params["nesterov"] and params["momentum"] == 0:
            raise ValueError("strategy parameter 'nesterov' needs 'momentum' > 0")
        return torch.optim.SGD(
            parameters,
            lr=lr,
            momentum=params["momentum"],
            nesterov=params["nesterov"],
            weight_decay=weight_decay,
            fused=fused,
        )
    optimizer_class = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name]
    return optimizer_class(parameters, lr=lr, weight_decay=weight_decay, fused=fused)


def make_scheduler(
    optimizer: torch.optim.Optimizer, params: Mapping[str, Any]
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The per-epoch schedule named by ``params['schedule']``, or ``None``."""
    if params["schedule"] == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=params["epochs"])
    if params["schedule"] == "step":
        return torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=params["step_size"], gamma=params["gamma"]
        )
    return None
