"""What every training strategy does around the loop: the cell's settings, callbacks and probes."""

from __future__ import annotations

import torch
from torch import nn

from bench.engine.loop import EpochCallback, FitConfig, LossFn, cross_entropy, fit
from bench.engine.optim import make_scheduler
from registry import Cell, RunContext, TrainingResult
from registry.data import DatasetSplits


def fit_cell(
    cell: Cell,
    context: RunContext,
    model: nn.Module,
    splits: DatasetSplits,
    optimizer: torch.optim.Optimizer,
    *,
    loss_fn: LossFn = cross_entropy,
    on_epoch: EpochCallback | None = None,
) -> TrainingResult:
    """Train ``model`` with the cell's epochs, batches, seed, precision and learning-rate schedule,
    report each epoch and run the requested probes through ``context``, then hand the trained
    model (best validation weights) to ``context`` as the cell's checkpoint.

    :param on_epoch: called after each epoch instead of ``context.epoch_end``; a strategy that
        passes one must call ``context.epoch_end`` itself.
    """
    params = cell.strategy.params
    result = fit(
        model,
        splits,
        optimizer,
        FitConfig.from_params(params, cell.seed),
        scheduler=make_scheduler(optimizer, params),
        loss_fn=loss_fn,
        on_epoch=on_epoch or context.epoch_end,
        probes=context.probes(),
    )
    context.trained_model(model)
    return result
