"""The reference: a training loop written like the lab's scripts."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from dlbench.bench.perf.cases import Case
from dlbench.registry.data import Normalization, Split


class LabStyleDataset(Dataset):
    """What torchvision's MNIST and CIFAR datasets do per sample: a PIL image, then transforms."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Callable) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = Image.fromarray(self.images[index])
        return self.transform(image), int(self.labels[index])


def lab_style_loader(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    normalization: Normalization,
    seed: int = 0,
) -> DataLoader:
    """The lab's data pipeline: PIL image per sample, ToTensor + Normalize, shuffling DataLoader."""
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize(normalization.mean, normalization.std)]
    )
    return DataLoader(
        LabStyleDataset(images, labels, transform),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )


def lab_style_epoch(
    model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer, skip: int = 0
) -> float:
    """One epoch of the lab's plain eager step; images/s over the steps after the first ``skip``."""
    model.train()
    device = next(model.parameters()).device
    seen, started = 0, time.perf_counter()
    for step, (inputs, targets) in enumerate(loader):
        if step == skip:
            synchronize(device)
            seen, started = 0, time.perf_counter()
        # As the lab's scripts do on a GPU: each batch moved there as it comes.
        inputs, targets = inputs.to(device), targets.to(device)
        loss = F.cross_entropy(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += len(targets)
    synchronize(device)
    return seen / (time.perf_counter() - started)


def synchronize(device: torch.device) -> None:
    """Wait for the GPU's queued work, so a clock read after it measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reference_speed(case: Case, images: np.ndarray, labels: np.ndarray) -> float:
    """Images/s of the lab-style loop over ``case.images`` images, after one warm-up step."""
    channels = case.input_shape[0]
    loader = lab_style_loader(
        images, labels, case.batch_size, Normalization(255.0, (0.5,) * channels, (0.25,) * channels)
    )
    model = case.model()
    # Default Adam, as the lab's scripts construct it.
    return lab_style_epoch(model, loader, torch.optim.Adam(model.parameters(), lr=1e-3), skip=1)


def as_arrays(split: Split) -> tuple[np.ndarray, np.ndarray]:
    """A split as the numpy arrays torchvision datasets keep: (N, H, W) or (N, H, W, C) uint8."""
    inputs = split.inputs
    images = inputs[:, 0] if inputs.shape[1] == 1 else inputs.permute(0, 2, 3, 1)
    return images.contiguous().numpy(), split.targets.numpy()
