"""Several seeds of one configuration trained together as one vectorised model.

The models (one per seed, each with its own initial weights) are stacked with
``torch.func.stack_module_state`` and trained with ``vmap`` over ``functional_call``: one
forward and backward pass for all seeds, each on its own batches in its own order (the order a
solo run of that seed would draw), one optimizer over the stacked parameters (Adam, AdamW and
SGD act element by element, so this is each seed's own optimizer). Each seed keeps its own best
epoch and metrics. Models with batch-norm statistics or dropout are not stacked (see
:func:`stack_problem`); callers fall back to one seed at a time.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

from dlbench.engine.batches import BatchNormalizer
from dlbench.engine.loop import FitConfig, TrainingDiverged
from dlbench.registry.data import DatasetSplits, Split
from dlbench.registry.records import TrainingResult


def stack_problem(model: nn.Module) -> str | None:
    """Why ``model`` cannot train stacked, or ``None``."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            return "its batch norm keeps running statistics per model"
        if isinstance(module, nn.Dropout) and module.p > 0:
            return "its dropout draws randomness per model"
    if any(p.dtype != torch.float32 for p in model.parameters()):
        return "its parameters are not float32"
    return None


class _Stack:
    """The stacked parameters and a stateless copy of the architecture to call them with."""

    def __init__(self, models: Sequence[nn.Module]) -> None:
        self.models = list(models)
        params, buffers = stack_module_state(self.models)
        self.params: dict[str, torch.Tensor] = params
        self.buffers: dict[str, torch.Tensor] = buffers
        self.base = copy.deepcopy(self.models[0]).to("meta")

    def logits(self, params: Any, buffers: Any, inputs: torch.Tensor) -> torch.Tensor:
        output: torch.Tensor = functional_call(self.base, (params, buffers), (inputs,))
        return output

    def loss(
        self, params: Any, buffers: Any, inputs: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.logits(params, buffers, inputs)
        return F.cross_entropy(logits, targets), logits

    def evaluate(
        self, split: Split, normalize: BatchNormalizer, batch_size: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each seed's mean cross-entropy and accuracy on ``split``: two ``(seeds,)`` tensors."""
        forward = vmap(self.logits, in_dims=(0, 0, None))
        with torch.no_grad():
            chunks = [
                forward(self.params, self.buffers, normalize(split.inputs[i : i + batch_size]))
                for i in range(0, len(split), batch_size)
            ]
        logits = torch.cat(chunks, dim=1)  # (seeds, n, classes)
        targets = split.targets
        losses = torch.stack([F.cross_entropy(seed_logits, targets) for seed_logits in logits])
        accuracy = (logits.argmax(dim=2) == targets).float().mean(dim=1)
        return losses, accuracy

    def snapshot(self, seed: int) -> dict[str, torch.Tensor]:
        return {k: v[seed].detach().clone() for k, v in {**self.params, **self.buffers}.items()}


def fit_stacked(
    models: Sequence[nn.Module],
    splits: DatasetSplits,
    optimizer_for: Any,
    configs: Sequence[FitConfig],
) -> list[TrainingResult]:
    """Train ``models`` (one per seed, built alike) together; each seed's result, in order.

    :param optimizer_for: ``optimizer_for(parameters) -> torch.optim.Optimizer``, called once
        with the stacked parameters.
    :param configs: one per model; they differ only in ``seed``.
    """
    stack = _Stack(models)
    config = configs[0]
    seeds = len(models)
    train = splits.train
    device = train.targets.device
    normalize = BatchNormalizer(splits.normalization, len(splits.input_shape), device)
    optimizer = optimizer_for(list(stack.params.values()))
    step = vmap(grad_and_value(stack.loss, has_aux=True), in_dims=(0, None, 0, 0))
    generators = [torch.Generator().manual_seed(c.seed) for c in configs]
    n = len(train)
    epochs: list[list[dict[str, float]]] = [[] for _ in range(seeds)]
    best = [0] * seeds
    best_state: list[dict[str, torch.Tensor] | None] = [None] * seeds
    train_seconds = 0.0
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        orders = torch.stack([torch.randperm(n, generator=g) for g in generators]).to(device)
        loss_sum = torch.zeros(seeds, device=device)
        correct = torch.zeros(seeds, dtype=torch.long, device=device)
        for start in range(0, n, config.batch_size):
            indices = orders[:, start : start + config.batch_size]  # (seeds, batch)
            size = indices.shape[1]
            raw = train.inputs[indices.reshape(-1)]
            inputs = normalize(raw).reshape(seeds, size, *splits.input_shape)
            targets = train.targets[indices.reshape(-1)].reshape(seeds, size)
            grads, (loss, logits) = step(stack.params, stack.buffers, inputs, targets)
            for name, parameter in stack.params.items():
                parameter.grad = grads[name]
            optimizer.step()
            loss_sum += loss.detach() * size
            correct += (logits.detach().argmax(dim=2) == targets).sum(dim=1)
        train_loss = (loss_sum / n).tolist()
        train_acc = (correct.double() / n).tolist()
        train_seconds += time.perf_counter() - started
        for index, value in enumerate(train_loss):
            if not math.isfinite(value):
                raise TrainingDiverged(
                    f"training loss of seed {configs[index].seed} became {value} "
                    f"(diverged at epoch {epoch})"
                )
        val_loss, val_acc = stack.evaluate(splits.val, normalize, config.eval_batch_size)
        lr = optimizer.param_groups[0]["lr"]
        seconds = time.perf_counter() - started
        for index in range(seeds):
            metrics = {
                "epoch": epoch,
                "train_loss": train_loss[index],
                "train_acc": train_acc[index],
                "val_loss": float(val_loss[index]),
                "val_acc": float(val_acc[index]),
                "lr": lr,
                "seconds": seconds,
            }
            epochs[index].append(metrics)
            if (
                best_state[index] is None
                or metrics["val_acc"] > epochs[index][best[index] - 1]["val_acc"]
            ):
                best[index] = epoch
                best_state[index] = stack.snapshot(index)
    return _results(stack, splits, normalize, config, epochs, best, best_state, train_seconds)


def _results(
    stack: _Stack,
    splits: DatasetSplits,
    normalize: BatchNormalizer,
    config: FitConfig,
    epochs: list[list[dict[str, float]]],
    best: list[int],
    best_state: list[dict[str, torch.Tensor] | None],
    train_seconds: float,
) -> list[TrainingResult]:
    """Each seed's final metrics (as the one loop reports them); each model left with its best
    weights, as after a solo run."""
    finals: list[dict[str, Any]] = []
    last_test = None
    if splits.test is not None:
        last_test = stack.evaluate(splits.test, normalize, config.eval_batch_size)
    for index, model in enumerate(stack.models):
        final: dict[str, Any] = {"best_epoch": best[index], "last_epoch": config.epochs}
        for key in epochs[index][-1]:
            if key not in {"epoch", "seconds", "lr"}:
                final[f"{key}@best"] = epochs[index][best[index] - 1][key]
                final[f"{key}@last"] = epochs[index][-1][key]
        if last_test is not None:
            final["test_loss@last"] = float(last_test[0][index])
            final["test_acc@last"] = float(last_test[1][index])
        state = best_state[index]
        assert state is not None
        model.load_state_dict(state)
        final["parameters"] = sum(p.numel() for p in model.parameters())
        finals.append(final)
    if splits.test is not None:
        # The best weights of every seed, stacked again, for their test metrics.
        best_stack = _Stack(stack.models)
        losses, accuracy = best_stack.evaluate(splits.test, normalize, config.eval_batch_size)
        for index, final in enumerate(finals):
            final["test_loss@best"] = float(losses[index])
            final["test_acc@best"] = float(accuracy[index])
    # Each seed's own images over the time they shared.
    images = len(splits.train) * config.epochs
    results = []
    for index, final in enumerate(finals):
        final["train_seconds"] = train_seconds
        final["images_per_second"] = images / train_seconds if train_seconds else 0.0
        results.append(TrainingResult(epochs=epochs[index], final=final))
    return results
