"""Strategy training hooks: batch transforms, soft targets, gradient hooks and accumulation."""

from __future__ import annotations

import pytest
import torch
from helpers import toy_splits
from torch import nn

import dlbench
from dlbench.engine.loop import FitConfig, fit


def test_batch_transform_soft_targets_and_after_backward_hook_run_every_step() -> None:
    seen_steps: list[int] = []
    torch.manual_seed(0)
    model = nn.Linear(2, 2)

    def soften(batch: dlbench.Batch, generator: torch.Generator) -> dlbench.Batch:
        onehot = nn.functional.one_hot(batch.labels, 2).float()
        return dlbench.Batch(batch.inputs, 0.9 * onehot + 0.05, batch.indices, batch.labels)

    hooks = dlbench.TrainingHooks(
        batch_transform=soften, after_backward=lambda model, step: seen_steps.append(step)
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    result = fit(model, toy_splits(), optimizer, FitConfig(5, 32, 64, 0), hooks=hooks)
    steps_per_epoch = -(-len(toy_splits().train) // 32)
    assert seen_steps == list(range(1, 5 * steps_per_epoch + 1))
    assert result.final["train_acc@last"] > 0.8  # accuracy is measured on the true labels


def test_accumulating_two_half_batches_equals_one_full_batch() -> None:
    splits = toy_splits()

    def trained(batch_size: int, accumulate: int) -> torch.Tensor:
        torch.manual_seed(0)
        model = nn.Linear(2, 2)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        config = FitConfig(1, batch_size, 64, 0)
        # One epoch over a batch order both runs share: the full split in one batch.
        fit(model, splits, optimizer, config, hooks=dlbench.TrainingHooks(accumulate=accumulate))
        return model.weight.detach().clone()

    n = len(splits.train)
    assert torch.allclose(trained(n, 1), trained(n // 2, 2), atol=1e-6)


def test_training_hooks_refuse_a_bad_accumulation() -> None:
    with pytest.raises(ValueError, match="accumulate"):
        dlbench.TrainingHooks(accumulate=0)
