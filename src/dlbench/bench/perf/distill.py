"""Distillation's cost: a student epoch with cached teacher outputs against online ones."""

from __future__ import annotations

import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dlbench.bench.perf.cases import Case, builder, engine_optimizer, synthetic
from dlbench.bench.perf.measure import as_splits, step_flops
from dlbench.bench.perf.reference import synchronize
from dlbench.engine.batches import BatchNormalizer, predict
from dlbench.engine.loop import FitConfig, fit
from dlbench.engine.losses import distillation_loss
from dlbench.registry.catalog import Catalog
from dlbench.registry.training import Batch


def build_student(catalog: Catalog) -> nn.Module:
    """The lab's 0.69M-parameter student."""
    return builder(
        catalog,
        "residual_cnn",
        (3, 32, 32),
        blocks=1,
        channels=[48, 96, 192],
        shortcut="projection",
    )()


def build_teacher(catalog: Catalog) -> nn.Module:
    """The lab's ResNet-18-like teacher (11.2M parameters)."""
    return builder(
        catalog,
        "residual_cnn",
        (3, 32, 32),
        blocks=2,
        channels=[64, 128, 256, 512],
        shortcut="projection",
    )()


def student_case(catalog: Catalog, batch_size: int, images: int, device: str = "cpu") -> Case:
    """The student as a timing case."""
    return Case(
        "student", "cnn", lambda: build_student(catalog), (3, 32, 32), batch_size, images, device
    )


def distillation_flop_bound(catalog: Catalog) -> float:
    """The cached/online speed-up if every FLOP cost the same: 1 + teacher forward / student step.

    Caching removes the teacher's forward pass and nothing else, so this is the most caching can
    give for this teacher and student.
    """
    inputs = torch.randn(8, 3, 32, 32)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        build_teacher(catalog).eval()(inputs)
    teacher = counter.get_total_flops()
    student = step_flops(student_case(catalog, 8, 8)) * 8
    return 1 + teacher / student


def distillation_epochs(catalog: Catalog, images: int, device: str = "cpu") -> dict[str, float]:
    """Seconds per student epoch with cached and online teacher outputs, and the one-off cost."""
    case = student_case(catalog, 128, images, device)
    data, labels = synthetic(case, images)
    splits = as_splits(case, data, labels)
    teacher = build_teacher(catalog).to(device).eval()
    normalize = BatchNormalizer(splits.normalization, 3, torch.device(device))
    started = time.perf_counter()
    cached = predict(teacher, splits.train.inputs, normalize, 256)
    synchronize(torch.device(device))
    one_off = time.perf_counter() - started
    seconds = {"teacher outputs (one-off)": one_off}
    for mode in ("cached", "online"):

        def loss_fn(
            logits: torch.Tensor, batch: Batch, mode: str = mode
        ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
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
