"""The training loop: batches drawn by index from tensors on the device, normalised per batch.

There is one loop; strategies change what it optimises through ``loss_fn`` and observe it through
``on_epoch``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench.engine.augment import BatchAugmenter
from registry.data import DatasetSplits, Normalization, Split
from registry.run import Probe, TrainingResult

EpochCallback = Callable[[int, Mapping[str, float]], None]


@dataclass(frozen=True)
class Batch:
    """One training batch.

    :param inputs: normalised (and augmented) inputs, as the model sees them.
    :param targets: class indices.
    :param indices: positions in the training split, so a strategy can look up per-example data
        such as cached teacher outputs.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    indices: torch.Tensor


#: ``loss_fn(logits, batch) -> (loss, parts)``: the loss to minimise and named parts of it (each
#: averaged over the batch), which the loop reports per epoch as ``train_<name>``.
LossFn = Callable[[torch.Tensor, Batch], tuple[torch.Tensor, dict[str, torch.Tensor]]]


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class FitConfig:
    """How long and in what batches to train.

    :param epochs: passes over the training split.
    :param batch_size: training batch size; the last batch of an epoch may be smaller.
    :param eval_batch_size: batch size for validation and test.
    :param seed: seeds the batch order.
    :param precision: ``fp32``, or ``bf16`` for bfloat16 autocast of the training step.
    :param channels_last: train image models in the channels-last memory format.
    """

    epochs: int
    batch_size: int
    eval_batch_size: int
    seed: int
    precision: str = "fp32"
    channels_last: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any], seed: int) -> FitConfig:
        """The configuration a strategy's resolved training parameters describe."""
        return cls(
            epochs=params["epochs"],
            batch_size=params["batch_size"],
            eval_batch_size=params["eval_batch_size"],
            seed=seed,
            precision=params.get("precision", "fp32"),
            channels_last=params.get("channels_last", False),
        )


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


def cross_entropy(
    logits: torch.Tensor, batch: Batch
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Plain cross-entropy on hard labels (the default ``loss_fn``)."""
    return F.cross_entropy(logits, batch.targets), {}


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


def fit(
    model: nn.Module,
    splits: DatasetSplits,
    optimizer: torch.optim.Optimizer,
    config: FitConfig,
    *,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    loss_fn: LossFn = cross_entropy,
    on_epoch: EpochCallback | None = None,
    probes: Sequence[Probe] = (),
) -> TrainingResult:
    """Train ``model`` on ``splits.train``, validating after every epoch.

    Leaves ``model`` with the weights of its best validation epoch, and reports every epoch
    metric at the best and the last epoch (``val_acc@best``, ``val_acc@last``, ...) plus, where a
    test split exists, test loss and accuracy of both the best and the last weights.

    ``probes`` observe the model after the backward pass of the steps they ask for.

    :raises TrainingDiverged: when the training loss is NaN or infinite.
    """
    train = splits.train
    device = train.targets.device
    normalize = BatchNormalizer(splits.normalization, len(splits.input_shape), device)
    augment = BatchAugmenter(splits.augmentation) if splits.augmentation.active else None
    order_generator = torch.Generator().manual_seed(config.seed)
    images = len(splits.input_shape) == 3
    memory_format = torch.channels_last if config.channels_last and images else None
    if memory_format is not None:
        model.to(memory_format=memory_format)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")
    n = len(train)
    epochs: list[dict[str, float]] = []
    best_epoch, best_state = 0, None
    train_seconds = 0.0
    probe_steps: frozenset[int] = frozenset().union(*(p.steps for p in probes))
    step = 0

    for epoch in range(1, config.epochs + 1):
        model.train()
        started = time.perf_counter()
        order = torch.randperm(n, generator=order_generator).to(device)
        # Sums stay on the device so the loop never waits for it mid-epoch.
        loss_sum = torch.zeros((), device=device)
        part_sums: dict[str, torch.Tensor] = {}
        correct = torch.zeros((), dtype=torch.long, device=device)
        for start in range(0, n, config.batch_size):
            indices = order[start : start + config.batch_size]
            raw = train.inputs[indices]
            inputs = normalize(augment(raw) if augment is not None else raw)
            if memory_format is not None:
                inputs = inputs.contiguous(memory_format=memory_format)
            targets = train.targets[indices]
            with autocast:
                logits = model(inputs)
                loss, parts = loss_fn(logits, Batch(inputs, targets, indices))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            step += 1
            if step in probe_steps:
                for probe in probes:
                    if step in probe.steps:
                        probe.observe(model, step, epoch)
            optimizer.step()
            loss_sum += loss.detach() * len(indices)
            for name, part in parts.items():
                part_sums[name] = part_sums.get(name, 0) + part.detach() * len(indices)
            correct += (logits.detach().argmax(dim=1) == targets).sum()
        train_loss = loss_sum.item() / n
        train_seconds += time.perf_counter() - started
        if not math.isfinite(train_loss):
            raise TrainingDiverged(f"training loss became {train_loss} (diverged at epoch {epoch})")
        lr = optimizer.param_groups[0]["lr"]
        if scheduler is not None:
            scheduler.step()
        val_loss, val_acc = evaluate(model, splits.val, normalize, config.eval_batch_size)
        metrics = {
            "epoch": epoch,
            "train_loss": train_loss,
            **{f"train_{name}": total.item() / n for name, total in part_sums.items()},
            "train_acc": correct.item() / n,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "lr": lr,
            "seconds": time.perf_counter() - started,
        }
        epochs.append(metrics)
        if best_state is None or val_acc > epochs[best_epoch - 1]["val_acc"]:
            best_epoch = epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if on_epoch is not None:
            on_epoch(epoch, metrics)

    final: dict[str, Any] = {"best_epoch": best_epoch, "last_epoch": config.epochs}
    for key in epochs[-1]:
        if key not in {"epoch", "seconds", "lr"}:
            final[f"{key}@best"] = epochs[best_epoch - 1][key]
            final[f"{key}@last"] = epochs[-1][key]
    if splits.test is not None:
        final["test_loss@last"], final["test_acc@last"] = evaluate(
            model, splits.test, normalize, config.eval_batch_size
        )
    assert best_state is not None
    model.load_state_dict(best_state)
    if splits.test is not None:
        final["test_loss@best"], final["test_acc@best"] = evaluate(
            model, splits.test, normalize, config.eval_batch_size
        )
    final["train_seconds"] = train_seconds
    final["images_per_second"] = n * config.epochs / train_seconds if train_seconds else 0.0
    final["parameters"] = sum(p.numel() for p in model.parameters())
    return TrainingResult(epochs=epochs, final=final)
