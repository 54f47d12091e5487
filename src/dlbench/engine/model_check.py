"""Checking a built model against its dataset before any training: logits of the right shape."""

from __future__ import annotations

import torch
from torch import nn


def output_problem(
    model: nn.Module, inputs: torch.Tensor, num_classes: int, what: str
) -> str | None:
    """Why ``model``'s output on ``inputs`` is not finite ``(batch, num_classes)`` logits, or
    ``None`` when it is.

    :param inputs: one small batch, as the model sees it (normalised).
    :param what: how to name the pairing in the message, e.g. ``model 'mlp' on dataset 'digits'``.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(inputs)
    finally:
        model.train(was_training)
    expected = (inputs.shape[0], num_classes)
    if not isinstance(logits, torch.Tensor):
        return f"{what}: the model returns {type(logits).__name__}, expected a tensor of logits"
    if tuple(logits.shape) != expected:
        return (
            f"{what}: the model's output has shape {tuple(logits.shape)}, expected "
            f"(batch, classes) = {expected}"
        )
    if not logits.is_floating_point():
        return f"{what}: the model returns {logits.dtype} values, expected floating-point logits"
    if not bool(torch.isfinite(logits).all()):
        return f"{what}: the model returns NaN or infinite logits on a batch of real inputs"
    return None
