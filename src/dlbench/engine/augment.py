"""Batch augmentation on the training device: random crops with padding and horizontal flips."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dlbench.registry.data import Augmentation


class BatchAugmenter:
    """Applies an ``Augmentation`` to a raw ``(B, C, H, W)`` batch in a few tensor ops.

    Randomness comes from torch's generator for the batch's device, which the runner seeds per
    cell, so augmented runs are reproducible.
    """

    def __init__(self, augmentation: Augmentation) -> None:
        self.augmentation = augmentation

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        """The augmented batch (same shape and dtype)."""
        if self.augmentation.crop_padding:
            batch = random_crop(batch, self.augmentation.crop_padding)
        if self.augmentation.flip:
            batch = random_flip(batch)
        return batch


def random_crop(batch: torch.Tensor, padding: int) -> torch.Tensor:
    """Zero-pad each image by ``padding`` and cut it back to size at a random offset per image."""
    size, _, height, width = batch.shape
    padded = F.pad(batch, (padding, padding, padding, padding))
    device = batch.device
    top = torch.randint(0, 2 * padding + 1, (size, 1), device=device)
    left = torch.randint(0, 2 * padding + 1, (size, 1), device=device)
    rows = (top + torch.arange(height, device=device))[:, None, :, None]
    cols = (left + torch.arange(width, device=device))[:, None, None, :]
    images = torch.arange(size, device=device)[:, None, None, None]
    channels = torch.arange(batch.shape[1], device=device)[None, :, None, None]
    return padded[images, channels, rows, cols]


def random_flip(batch: torch.Tensor) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(batch.shape[0], device=batch.device) < 0.5
    return torch.where(flip[:, None, None, None], batch.flip(-1), batch)
