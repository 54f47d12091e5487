"""``bench perf``: dlbench's training engine against a loop written like the lab's scripts.

Both sides train the same model with the same batch size, optimizer and number of images, in the
same process, one after the other. The reference uses a torchvision-style Dataset that builds a
PIL image per sample, ToTensor + Normalize, a shuffling DataLoader, default Adam and a plain eager
step; dlbench keeps the data as one uint8 tensor, draws batches by index, normalises whole batches
and uses its fused optimizer. Achieved GFLOP/s count the training step's FLOPs with torch's FLOP
counter and sit beside the GEMM peak measured here and now.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

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
from registry.data import DatasetSplits, Normalization, Split
from registry.params import resolve_params


@dataclass(frozen=True)
class Case:
    """One model and data shape to time.

    :param kind: ``mlp`` or ``cnn``.
    :param images: how many training images one timing sees.
    """

    name: str
    kind: str
    build: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    batch_size: int
    images: int

    def model(self, seed: int = 0) -> nn.Module:
        """A new model with the initial weights of ``seed``, the same for every side."""
        torch.manual_seed(seed)
        return self.build()


def engine_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    """The engine's default optimizer (Adam at 1e-3, fused) for ``model`` on the CPU."""
    params = resolve_params(TRAINING_PARAMS, {}, "perf")
    return make_optimizer(model.parameters(), params, torch.device("cpu"))


def mlp_case(depth: int, images: int) -> Case:
    """The lab's MLP (512 wide) of ``depth`` on MNIST-shaped data, batch 64."""
    return Case(
        f"MLP depth {depth}, 28x28, bs 64",
        "mlp",
        partial(build_mlp, (1, 28, 28), 10, depth=depth, hidden=512, activation="relu"),
        (1, 28, 28),
        64,
        images,
    )


def cases(scale: float) -> list[Case]:
    """MLPs of depth 2 and 10 on MNIST-shaped data, a 5-block residual CNN on CIFAR-shaped."""
    return [
        mlp_case(2, int(12800 * scale)),
        mlp_case(10, int(3200 * scale)),
        Case(
            "residual CNN 5x[64..512], 32x32, bs 128",
            "cnn",
            partial(
                build_residual_cnn,
                (3, 32, 32),
                10,
                blocks=5,
                channels=(64, 128, 256, 512),
                shortcut="projection",
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
    seen, started = 0, time.perf_counter()
    for step, (inputs, targets) in enumerate(loader):
        if step == skip:
            seen, started = 0, time.perf_counter()
        loss = F.cross_entropy(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += len(targets)
    return seen / (time.perf_counter() - started)


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
    model = case.model()
    optimizer = engine_optimizer(model)
    config = FitConfig(1, case.batch_size, 256, 0, precision, channels_last)
    first = slice(0, 2 * case.batch_size)
    warm = replace(splits, train=Split(splits.train.inputs[first], splits.train.targets[first]))
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


@dataclass(frozen=True)
class StepBreakdown:
    """Where one fp32 training step of an MLP goes, each part timed on its own.

    :param step_ms: the engine's whole step (from its steady-state images/s).
    :param gemm_ms: the step's matrix products alone (forward, grad-input, grad-weight).
    :param gemm_gflops: their rate: what these matrix shapes reach on this machine.
    :param optimizer_ms: one optimizer step alone, on gradients already there.
    """

    step_ms: float
    gemm_ms: float
    gemm_gflops: float
    optimizer_ms: float

    @property
    def other_ms(self) -> float:
        """Activations, loss, autograd bookkeeping, batching and cache misses."""
        return max(0.0, self.step_ms - self.gemm_ms - self.optimizer_ms)

    def best_ratio(self, reference_ms: float) -> float:
        """The ratio to a reference step of ``reference_ms`` if nothing but the matrix products
        and the optimizer took time."""
        return reference_ms / (self.gemm_ms + self.optimizer_ms)


def median_seconds(run: Callable[[], object], repeats: int = 20, trials: int = 5) -> float:
    """Median over ``trials`` of the mean time of ``run`` over ``repeats`` calls (after one)."""
    run()
    times = []
    for _ in range(trials):
        started = time.perf_counter()
        for _ in range(repeats):
            run()
        times.append((time.perf_counter() - started) / repeats)
    return statistics.median(times)


def step_breakdown(case: Case, images_per_second: float) -> StepBreakdown:
    """Time the matrix products and the optimizer of ``case``'s model apart from the step."""
    model = case.model()
    batch = case.batch_size
    products: list[Callable[[], torch.Tensor]] = []
    flops = 0
    linears = [module for module in model.modules() if isinstance(module, nn.Linear)]
    for index, layer in enumerate(linears):
        weight = layer.weight.detach()
        inputs = torch.randn(batch, layer.in_features)
        grads = torch.randn(batch, layer.out_features)
        if layer.bias is not None:
            products.append(partial(torch.addmm, layer.bias.detach(), inputs, weight.t()))
        else:
            products.append(partial(torch.mm, inputs, weight.t()))
        products.append(partial(torch.mm, grads.t(), inputs))
        # Autograd computes no gradient for the first layer's input (the data).
        if index > 0:
            products.append(partial(torch.mm, grads, weight))
        flops += 2 * batch * layer.in_features * layer.out_features * (3 if index > 0 else 2)
    gemm = median_seconds(lambda: [product() for product in products])
    optimizer = engine_optimizer(model)
    for parameter in model.parameters():
        parameter.grad = torch.randn_like(parameter) * 1e-3
    optimizer_seconds = median_seconds(optimizer.step)
    return StepBreakdown(
        step_ms=1e3 * batch / images_per_second,
        gemm_ms=1e3 * gemm,
        gemm_gflops=flops / gemm / 1e9,
        optimizer_ms=1e3 * optimizer_seconds,
    )


def gemm_peak(dtype: torch.dtype = torch.float32, size: int = 2048) -> float:
    """GFLOP/s of a square matrix product, measured now in this process: the better of torch's
    default path (MKL for fp32 on x86) and oneDNN, so "of peak" is against what the cores can do."""
    a = torch.randn(size, size, dtype=dtype)
    b = torch.randn(size, size, dtype=dtype)
    products: list[Callable[[], torch.Tensor]] = [partial(torch.mm, a, b)]
    if torch.backends.mkldnn.is_available():
        # oneDNN's matmul as torch's CPU inductor backend calls it (weight as (out, in)).
        products.append(partial(torch.ops.mkldnn._linear_pointwise, a, b.t(), None, "none", [], ""))
    best = 0.0
    for product in products:
        try:
            seconds = median_seconds(product, repeats=3, trials=3)
        except RuntimeError:  # a build without this oneDNN operator
            continue
        best = max(best, 2 * size**3 / seconds / 1e9)
    return best


def build_student() -> nn.Module:
    """The lab's 0.69M-parameter student."""
    return build_residual_cnn(
        (3, 32, 32), 10, blocks=1, channels=(48, 96, 192), shortcut="projection"
    )


def build_teacher() -> nn.Module:
    """The lab's ResNet-18-like teacher (11.2M parameters)."""
    return build_residual_cnn(
        (3, 32, 32), 10, blocks=2, channels=(64, 128, 256, 512), shortcut="projection"
    )


def distillation_flop_bound() -> float:
    """The cached/online speed-up if every FLOP cost the same: 1 + teacher forward / student step.

    Caching removes the teacher's forward pass and nothing else, so this is the most caching can
    give for this teacher and student.
    """
    inputs = torch.randn(8, 3, 32, 32)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        build_teacher().eval()(inputs)
    teacher = counter.get_total_flops()
    student = step_flops(Case("student", "cnn", build_student, (3, 32, 32), 8, 8)) * 8
    return 1 + teacher / student


def distillation_epochs(images: int) -> dict[str, float]:
    """Seconds per student epoch with cached and online teacher outputs, and the one-off cost."""
    case = Case("student", "cnn", build_student, (3, 32, 32), 128, images)
    data, labels = synthetic(case, images)
    splits = as_splits(case, data, labels)
    teacher = build_teacher().eval()
    normalize = BatchNormalizer(splits.normalization, 3, torch.device("cpu"))
    started = time.perf_counter()
    cached = predict(teacher, splits.train.inputs, normalize, 256)
    one_off = time.perf_counter() - started
    seconds = {"teacher outputs (one-off)": one_off}
    for mode in ("cached", "online"):

        def loss_fn(logits: torch.Tensor, batch: Batch, mode: str = mode):
            if mode == "cached":
                outputs = cached[batch.indices]
            else:
                with torch.no_grad():
                    outputs = teacher(batch.inputs)
            return distillation_loss(logits, batch.targets, outputs, 4.0, 0.9)

        student = case.model()
        result = fit(
            student, splits, engine_optimizer(student), FitConfig(1, 128, 256, 0), loss_fn=loss_fn
        )
        seconds[f"student epoch, {mode}"] = float(result.final["train_seconds"])
    return seconds
