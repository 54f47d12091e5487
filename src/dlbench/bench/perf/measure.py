"""Measuring the engine: its speed on a case, a step's FLOPs, the GEMM peak of this machine, and
where an MLP step's time goes."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dlbench.bench.perf.cases import WARM_UP_BATCHES, Case, engine_optimizer
from dlbench.bench.perf.reference import synchronize
from dlbench.engine.loop import FitConfig, fit
from dlbench.engine.splits import channel_normalization
from dlbench.registry.data import DatasetSplits, Split


def as_splits(case: Case, images: np.ndarray, labels: np.ndarray) -> DatasetSplits:
    """The same images as dlbench holds them: one uint8 tensor (N, C, H, W)."""
    tensor = torch.from_numpy(images)
    tensor = tensor.unsqueeze(1) if tensor.dim() == 3 else tensor.permute(0, 3, 1, 2).contiguous()
    split = Split(tensor, torch.from_numpy(labels).long())
    small = Split(tensor[:8], split.targets[:8])
    splits = DatasetSplits(split, small, None, 10, channel_normalization(tensor, 255.0))
    return splits.to(torch.device(case.device))


def engine_speed(
    case: Case, splits: DatasetSplits, precision: str = "fp32", channels_last: bool = False
) -> float:
    """Images/s of dlbench's training loop on the same data (steady state, after a warm-up)."""
    model = case.model()
    optimizer = engine_optimizer(model)
    config = FitConfig(1, case.batch_size, 256, 0, precision, channels_last)
    first = slice(0, WARM_UP_BATCHES * case.batch_size)
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


def median_seconds(
    run: Callable[[], object], repeats: int = 20, trials: int = 5, device: str = "cpu"
) -> float:
    """Median over ``trials`` of the mean time of ``run`` over ``repeats`` calls (after one)."""
    run()
    times = []
    for _ in range(trials):
        synchronize(torch.device(device))
        started = time.perf_counter()
        for _ in range(repeats):
            run()
        synchronize(torch.device(device))
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


def gemm_peak(dtype: torch.dtype = torch.float32, size: int = 2048, device: str = "cpu") -> float:
    """GFLOP/s of a square matrix product, measured now in this process: on the CPU the better
    of torch's default path (MKL for fp32 on x86) and oneDNN, so "of peak" is against what the
    cores can do; on a GPU a larger product (the default math: TF32 off)."""
    if device == "cuda":
        size = 8192
    a = torch.randn(size, size, dtype=dtype, device=device)
    b = torch.randn(size, size, dtype=dtype, device=device)
    products: list[Callable[[], torch.Tensor]] = [partial(torch.mm, a, b)]
    if device == "cpu" and torch.backends.mkldnn.is_available():
        # oneDNN's matmul as torch's CPU inductor backend calls it (weight as (out, in)).
        products.append(partial(torch.ops.mkldnn._linear_pointwise, a, b.t(), None, "none", [], ""))
    best = 0.0
    for product in products:
        try:
            seconds = median_seconds(product, repeats=3, trials=3, device=device)
        except RuntimeError:  # a build without this oneDNN operator
            continue
        best = max(best, 2 * size**3 / seconds / 1e9)
    return best
