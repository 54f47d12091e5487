"""The training loop: batches drawn by index from tensors on the device, normalised per batch.

There is one loop. Strategies change what it optimises through ``loss_fn``, change batches,
gradients and epochs through ``TrainingHooks``, and observe it
through ``on_epoch`` and probes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from dlbench.engine.augment import BatchAugmenter
from dlbench.engine.batches import BatchNormalizer, evaluate
from dlbench.engine.losses import cross_entropy
from dlbench.engine.stages import mark_stage, stage
from dlbench.registry.data import DatasetSplits
from dlbench.registry.probes import Probe
from dlbench.registry.records import TrainingResult
from dlbench.registry.training import Batch, EpochCallback, LossFn, TrainingHooks

#: Added to a cell's seed for the generator handed to batch transforms, so their draws do not
#: repeat the batch order's.
TRANSFORM_SEED_OFFSET = 0x9E3779B9


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class FitConfig:
    """How long and in what batches to train.

    :param epochs: passes over the training split.
    :param batch_size: training batch size; the last batch of an epoch may be smaller.
    :param eval_batch_size: batch size for validation and test.
    :param seed: seeds the batch order (and the generator batch transforms get).
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


class _Stepper:
    """One training step after another: forward, loss, backward, hooks, optimizer."""

    def __init__(
        self,
        model: nn.Module,
        splits: DatasetSplits,
        optimizer: torch.optim.Optimizer,
        config: FitConfig,
        loss_fn: LossFn,
        hooks: TrainingHooks,
        probes: Sequence[Probe],
    ) -> None:
        self.model, self.optimizer, self.loss_fn, self.hooks = model, optimizer, loss_fn, hooks
        self.probes = probes
        self.probe_steps: frozenset[int] = frozenset().union(*(p.steps for p in probes))
        self.device = splits.train.targets.device
        self.normalize = BatchNormalizer(splits.normalization, len(splits.input_shape), self.device)
        self.augment = BatchAugmenter(splits.augmentation) if splits.augmentation.active else None
        images = len(splits.input_shape) == 3
        self.memory_format = torch.channels_last if config.channels_last and images else None
        if self.memory_format is not None:
            model.to(memory_format=self.memory_format)
        self.autocast = torch.autocast(
            self.device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16"
        )
        self.transform_generator = torch.Generator().manual_seed(
            (config.seed + TRANSFORM_SEED_OFFSET) % 2**63
        )
        self.step = 0
        self._pending = 0  # batches whose gradients wait for the next optimizer step

    def batch(self, splits: DatasetSplits, indices: torch.Tensor) -> Batch:
        """The training batch at ``indices``: augmented, normalised, transformed."""
        raw = splits.train.inputs[indices]
        inputs = self.normalize(self.augment(raw) if self.augment is not None else raw)
        if self.memory_format is not None:
            inputs = inputs.contiguous(memory_format=self.memory_format)
        labels = splits.train.targets[indices]
        batch = Batch(inputs, labels, indices, labels)
        if self.hooks.batch_transform is not None:
            try:
                batch = self.hooks.batch_transform(batch, self.transform_generator)
            except Exception as exc:
                mark_stage(exc, "batch transform")
                raise
        return batch

    def train(self, batch: Batch, epoch: int) -> tuple[torch.Tensor, dict[str, torch.Tensor], Any]:
        """Forward, backward and (every ``accumulate`` batches) an optimizer step."""
        with self.autocast:
            try:
                logits = self.model(batch.inputs)
            except Exception as exc:
                mark_stage(exc, "forward")
                raise
            try:
                loss, parts = self.loss_fn(logits, batch)
            except Exception as exc:
                mark_stage(exc, "loss")
                raise
        accumulate = self.hooks.accumulate
        if self._pending == 0:
            self.optimizer.zero_grad(set_to_none=True)
        (loss / accumulate if accumulate > 1 else loss).backward()
        self._pending += 1
        if self._pending == accumulate:
            self.optimizer_step(epoch)
        return loss, parts, logits

    def optimizer_step(self, epoch: int) -> None:
        """Step the optimizer on the gradients gathered so far (also at an epoch's end)."""
        if self._pending == 0:
            return
        self._pending = 0
        self.step += 1
        if self.hooks.after_backward is not None:
            with stage("after backward"):
                self.hooks.after_backward(self.model, self.step)
        if self.step in self.probe_steps:
            with stage("probe"):
                for probe in self.probes:
                    if self.step in probe.steps:
                        probe.observe(self.model, self.step, epoch)
        self.optimizer.step()


def _train_epoch(
    stepper: _Stepper, splits: DatasetSplits, config: FitConfig, order: torch.Tensor, epoch: int
) -> dict[str, float]:
    """One pass over the training split; the epoch's training metrics."""
    stepper.model.train()
    n = len(splits.train)
    device = stepper.device
    # Sums stay on the device so the loop never waits for it mid-epoch.
    loss_sum = torch.zeros((), device=device)
    part_sums: dict[str, torch.Tensor] = {}
    correct = torch.zeros((), dtype=torch.long, device=device)
    for start in range(0, n, config.batch_size):
        batch = stepper.batch(splits, order[start : start + config.batch_size])
        loss, parts, logits = stepper.train(batch, epoch)
        size = len(batch.indices)
        loss_sum += loss.detach() * size
        for name, part in parts.items():
            part_sums[name] = part_sums.get(name, 0) + part.detach() * size
        correct += (logits.detach().argmax(dim=1) == batch.labels).sum()
    stepper.optimizer_step(epoch)
    train_loss = loss_sum.item() / n
    if not math.isfinite(train_loss):
        raise TrainingDiverged(f"training loss became {train_loss} (diverged at epoch {epoch})")
    return {
        "train_loss": train_loss,
        **{f"train_{name}": total.item() / n for name, total in part_sums.items()},
        "train_acc": correct.item() / n,
    }


def fit(
    model: nn.Module,
    splits: DatasetSplits,
    optimizer: torch.optim.Optimizer,
    config: FitConfig,
    *,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    loss_fn: LossFn = cross_entropy,
    hooks: TrainingHooks | None = None,
    on_epoch: EpochCallback | None = None,
    probes: Sequence[Probe] = (),
) -> TrainingResult:
    """Train ``model`` on ``splits.train``, validating after every epoch.

    Leaves ``model`` with the weights of its best validation epoch, and reports every epoch
    metric at the best and the last epoch (``val_acc@best``, ``val_acc@last``, ...) plus, where a
    test split exists, test loss and accuracy of both the best and the last weights.

    :param hooks: a batch transform, an after-backward hook, gradient accumulation, and
        ``hooks.on_epoch``, which runs before ``on_epoch``.
    :param probes: observe the model after the backward pass of the steps they ask for.
    :raises TrainingDiverged: when the training loss is NaN or infinite.
    """
    hooks = hooks or TrainingHooks()
    stepper = _Stepper(model, splits, optimizer, config, loss_fn, hooks, probes)
    order_generator = torch.Generator().manual_seed(config.seed)
    epochs: list[dict[str, float]] = []
    best_epoch, best_state = 0, None
    train_seconds = 0.0
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        order = torch.randperm(len(splits.train), generator=order_generator).to(stepper.device)
        train_metrics = _train_epoch(stepper, splits, config, order, epoch)
        train_seconds += time.perf_counter() - started
        lr = optimizer.param_groups[0]["lr"]
        if scheduler is not None:
            scheduler.step()
        val_loss, val_acc = evaluate(model, splits.val, stepper.normalize, config.eval_batch_size)
        metrics = {
            "epoch": epoch,
            **train_metrics,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "lr": lr,
            "seconds": time.perf_counter() - started,
        }
        epochs.append(metrics)
        if best_state is None or val_acc > epochs[best_epoch - 1]["val_acc"]:
            best_epoch = epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if hooks.on_epoch is not None:
            with stage("epoch callback"):
                hooks.on_epoch(epoch, metrics)
        if on_epoch is not None:
            on_epoch(epoch, metrics)
    assert best_state is not None
    final = _final_metrics(model, splits, stepper.normalize, config, epochs, best_epoch, best_state)
    final["train_seconds"] = train_seconds
    images = len(splits.train) * config.epochs
    final["images_per_second"] = images / train_seconds if train_seconds else 0.0
    return TrainingResult(epochs=epochs, final=final)


def _final_metrics(
    model: nn.Module,
    splits: DatasetSplits,
    normalize: BatchNormalizer,
    config: FitConfig,
    epochs: list[dict[str, float]],
    best_epoch: int,
    best_state: dict[str, torch.Tensor],
) -> dict[str, Any]:
    """Every epoch metric at the best and last epoch; test metrics of the last, then (after
    loading them) the best weights."""
    final: dict[str, Any] = {"best_epoch": best_epoch, "last_epoch": config.epochs}
    for key in epochs[-1]:
        if key not in {"epoch", "seconds", "lr"}:
            final[f"{key}@best"] = epochs[best_epoch - 1][key]
            final[f"{key}@last"] = epochs[-1][key]
    if splits.test is not None:
        final["test_loss@last"], final["test_acc@last"] = evaluate(
            model, splits.test, normalize, config.eval_batch_size
        )
    if best_epoch < config.epochs:
        model.load_state_dict(best_state)
    if splits.test is not None:
        if best_epoch < config.epochs:
            final["test_loss@best"], final["test_acc@best"] = evaluate(
                model, splits.test, normalize, config.eval_batch_size
            )
        else:  # the best weights are the last ones: the same metrics without a second pass
            final["test_loss@best"] = final["test_loss@last"]
            final["test_acc@best"] = final["test_acc@last"]
    final["parameters"] = sum(p.numel() for p in model.parameters())
    return final
