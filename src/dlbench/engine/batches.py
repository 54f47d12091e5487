"""Turning resident raw data into model inputs, and scoring a model on a whole split."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from dlbench.registry.data import Normalization, Split


class BatchNormalizer:
    """Turns a raw batch (uint8 or float) into normalised float32 on the batch's device."""

    def __init__(self, normalization: Normalization, input_rank: int, device: torch.device):
        channels = len(normalization.mean)
        shape = (channels,) + (1,) * (input_rank - 1) if input_rank > 1 else (channels,)
        std = torch.tensor(normalization.std, dtype=torch.float32, device=device)
        mean = torch.tensor(normalization.mean, dtype=torch.float32, device=device)
        # (x / scale - mean) / std folded into one multiply and one subtract.
        self._scale = (1.0 / (normalization.scale * std)).reshape(shape)
        self._shift = (mean / std).reshape(shape)

    def __call__(self, raw: torch.Tensor) -> torch.Tensor:
        """The normalised float32 batch."""
        # The multiply makes a new tensor: float data must never be changed where it lives.
        return (raw.to(torch.float32) * self._scale).sub_(self._shift)


@torch.no_grad()
def predict(
    model: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    normalize: BatchNormalizer,
    batch_size: int,
) -> torch.Tensor:
    """``model``'s outputs for every row of ``inputs`` (raw), in order, without augmentation."""
    if isinstance(model, nn.Module):
        model.eval()
    return torch.cat(
        [
            model(normalize(inputs[start : start + batch_size]))
            for start in range(0, len(inputs), batch_size)
        ]
    )


def evaluate(
    model: nn.Module, split: Split, normalize: BatchNormalizer, batch_size: int
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``split``."""
    logits = predict(model, split.inputs, normalize, batch_size)
    loss = F.cross_entropy(logits, split.targets)
    accuracy = (logits.argmax(dim=1) == split.targets).float().mean()
    return loss.item(), accuracy.item()
