"""``bench perf``: dlbench's training engine against a loop written like the lab's scripts.

Both sides train the same model with the same batch size, optimizer and number of images, in the
same process, one after the other. The reference uses a torchvision-style Dataset that builds a
PIL image per sample, ToTensor + Normalize, a shuffling DataLoader, default Adam and a plain eager
step; dlbench keeps the data as one uint8 tensor, draws batches by index, normalises whole batches
and uses its fused optimizer. Achieved GFLOP/s count the training step's FLOPs with torch's FLOP
counter and sit beside the GEMM peak measured here and now.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.flop_counter import FlopCounterMode
from torchvision import transforms

from bench.engine.loop import Batch, BatchNormalizer, FitConfig, fit, predict
from bench.engine.optim import TRAINING_PARAMS, make_optimizer
from bench.engine.splits import channel_normalization
from plugins.models.cnn import build_residual_cnn
from plugins.models.mlp import build_mlp
from plugins.strategies.distill import distillation_loss
from registry.data import DatasetSplits, Split
from registry.params import resolve_params


@dataclass(frozen=True)
class Case:
    """One model and data shape to time."""

    name: str
    build: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    batch_size: int
    images: int


def cases(scale: float) -> list[Case]:
    """The cases of the issue: MLPs on MNIST-shaped data, a 5-block residual CNN on CIFAR-shaped."""
    return [
        Case(
            "MLP depth 2, 28x28, bs 64",
            lambda: build_mlp((1, 28, 28), 10, depth=2, hidden=512, activation="relu"),
            (1, 28, 28),
            64,
            int(12800 * scale),
        ),
        Case(
            "MLP depth 10, 28x28, bs 64",
            lambda: build_mlp((1, 28, 28), 10, depth=10, hidden=512, activation="relu"),
            (1, 28, 28),
            64,
            int(3200 * scale),
        ),
        Case(
            "residual CNN 5x[64..512], 32x32, bs 128",
            lambda: build_residual_cnn(
                (3, 32, 32), 10, blocks=5, channels=(64, 128, 256, 512), shortcut="projection"
            ),
            (3, 32, 32),
            128,
            max(384, int(512 * scale)),
        ),
    ]


class LabStyleDataset(Dataset):
    """What torchvision's MNIST and CIFAR datasets do per sample: a PIL image, then transforms."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Callable) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = Image.fromarray(self.images[index])
        return self.transform(image), int(self.labels[index])


def synthetic(case: Case, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images (H, W) or (H, W, C) and labels."""
    rng = np.random.default_rng(0)
    channels, height, width = case.input_shape
    shape = (count, height, width) if channels == 1 else (count, height, width, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8), rng.integers(0, 10, count)


def reference_speed(case: Case, images: np.ndarray, labels: np.ndarray) -> float:
    """Images/s of the lab-style loop over ``case.images`` images, after one warm-up step."""
    channels = case.input_shape[0]
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.5,) * channels, (0.25,) * channels)]
    )
    loader = DataLoader(
        LabStyleDataset(images, labels, transform), batch_size=case.batch_size, shuffle=True
    )
    torch.manual_seed(0)
    model = case.build()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    seen, started = 0, 0.0
    for step, (inputs, targets) in enumerate(loader):
        if step == 1:
            seen, started = 0, time.perf_counter()
        loss = F.cross_entropy(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += len(targets)
    return seen / (time.perf_counter() - started)


def as_splits(case: Case, images: np.ndarray, labels: np.ndarray) -> DatasetSplits:
    """The same images as dlbench holds them: one uint8 tensor (N, C, H, W)."""
    tensor = torch.from_numpy(images)
    tensor = tensor.unsqueeze(1) if tensor.dim() == 3 else tensor.permute(0, 3, 1, 2).contiguous()
    split = Split(tensor, torch.from_numpy(labels).long())
    small = Split(tensor[:8], split.targets[:8])
    return DatasetSplits(split, small, None, 10, channel_normalization(tensor, 255.0))


def engine_speed(
    case: Case, splits: DatasetSplits, precision: str = "fp32", channels_last: bool = False
) -> float:
    """Images/s of dlbench's training loop on the same data (steady state, after a warm-up)."""
    torch.manual_seed(0)
    model = case.build()
    params = resolve_params(TRAINING_PARAMS, {"batch_size": case.batch_size}, "perf")
    optimizer = make_optimizer(model.parameters(), params, torch.device("cpu"))
    config = FitConfig(1, case.batch_size, 256, 0, precision, channels_last)
    warm = DatasetSplits(
        Split(
            splits.train.inputs[: 2 * case.batch_size], splits.train.targets[: 2 * case.batch_size]
        ),
        splits.val,
        None,
        10,
        splits.normalization,
    )
    fit(model, warm, optimizer, config)
    result = fit(model, splits, optimizer, config)
    return float(result.final["images_per_second"])


def step_flops(case: Case) -> float:
    """FLOPs of one training step (forward and backward) per image."""
    model = case.build()
    inputs = torch.randn(case.batch_size, *case.input_shape)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(inputs), torch.zeros(case.batch_size, dtype=torch.long)).backward()
    return counter.get_total_flops() / case.batch_size


def gemm_peak(dtype: torch.dtype = torch.float32, size: int = 2048) -> float:
    """GFLOP/s of a square matrix product, measured now in this process."""
    a = torch.randn(size, size, dtype=dtype)
    b = torch.randn(size, size, dtype=dtype)
    torch.mm(a, b)
    repeats, started = 5, time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def distillation_epochs(images: int) -> dict[str, float]:
    """Seconds per student epoch with cached and online teacher outputs, and the one-off cost."""
    case = Case(
        "student",
        lambda: build_residual_cnn(
            (3, 32, 32), 10, blocks=1, channels=(48, 96, 192), shortcut="projection"
        ),
        (3, 32, 32),
        128,
        images,
    )
    data, labels = synthetic(case, images)
    splits = as_splits(case, data, labels)
    teacher = build_residual_cnn(
        (3, 32, 32), 10, blocks=2, channels=(64, 128, 256, 512), shortcut="projection"
    ).eval()
    normalize = BatchNormalizer(splits.normalization, 3, torch.device("cpu"))
    started = time.perf_counter()
    cached = predict(teacher, splits.train.inputs, normalize, 256)
    one_off = time.perf_counter() - started
    params = resolve_params(TRAINING_PARAMS, {"batch_size": 128}, "perf")
    seconds = {"teacher outputs (one-off)": one_off}
    for mode in ("cached", "online"):

        def loss_fn(logits: torch.Tensor, batch: Batch, mode: str = mode):
            if mode == "cached":
                outputs = cached[batch.indices]
            else:
                with torch.no_grad():
                    outputs = teacher(batch.inputs)
            return distillation_loss(logits, batch.targets, outputs, 4.0, 0.9)

        torch.manual_seed(0)
        student = case.build()
        optimizer = make_optimizer(student.parameters(), params, torch.device("cpu"))
        result = fit(student, splits, optimizer, FitConfig(1, 128, 256, 0), loss_fn=loss_fn)
        seconds[f"student epoch, {mode}"] = float(result.final["train_seconds"])
    return seconds
