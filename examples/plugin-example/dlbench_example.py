"""An example dlbench plugin: a model, two datasets (one of them a table of features), and two
strategies that change training in the ways a strategy can (the loss; the batches and the
gradients), registered through the public hooks and written against ``import dlbench`` alone."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dlbench import (
    SPLIT_PARAMS,
    TRAINING_PARAMS,
    Batch,
    BatchTransform,
    Cell,
    DatasetRequest,
    DatasetSpec,
    DatasetSplits,
    ModelSpec,
    Param,
    Register,
    RunContext,
    Split,
    StrategySpec,
    TrainingHooks,
    TrainingResult,
    hookimpl,
    make_splits,
    split_off,
)

# -- a model and a dataset ---------------------------------------------------------------------


def build_wide_linear(
    input_shape: tuple[int, ...], num_classes: int, *, width: int, dropout: float
) -> nn.Module:
    """One wide hidden layer with dropout, for any input shape."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(math.prod(input_shape), width),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(width, num_classes),
    )


def load_blobs(request: DatasetRequest) -> DatasetSplits:
    """Gaussian blobs in 16 dimensions, 4 classes, drawn from a fixed seed (nothing to download)."""
    generator = torch.Generator().manual_seed(1234)
    centres = torch.randn(4, 16, generator=generator) * 0.8
    targets = torch.arange(1000) % 4
    inputs = centres[targets] + torch.randn(1000, 16, generator=generator)
    rest, test = split_off(Split(inputs, targets), 0.2, 0)  # the same test split for every run
    return make_splits(rest, test, scale=1.0, num_classes=4, params=request.params)


def load_wine(request: DatasetRequest) -> DatasetSplits:
    """scikit-learn's wine table: 178 rows of 13 chemical measurements on very different scales
    (magnesium near 100, hue near 1), 3 cultivars. Rows are feature vectors, so ``make_splits``
    standardises each feature with the training part's mean and std."""
    from sklearn.datasets import load_wine as sklearn_load_wine

    bunch = sklearn_load_wine()
    full = Split(
        torch.from_numpy(bunch.data).to(torch.float32),
        torch.from_numpy(bunch.target).to(torch.int64),
    )
    rest, test = split_off(full, 0.2, 0)  # the same test split for every run
    return make_splits(rest, test, scale=1.0, num_classes=3, params=request.params)


# -- label smoothing: a strategy that changes only the loss --------------------------------------


def run_label_smooth(cell: Cell, context: RunContext) -> TrainingResult:
    """Cross-entropy against targets smoothed towards the uniform distribution."""
    smoothing = cell.strategy.params["smoothing"]

    def loss_fn(logits: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, dict]:
        return F.cross_entropy(logits, batch.targets, label_smoothing=smoothing), {}

    splits = context.load_dataset()
    model = context.build_model(splits)
    return context.fit(model, splits, context.optimizer(model.parameters()), loss_fn=loss_fn)


# -- mixup with gradient clipping: a strategy that changes batches and gradients ------------------


def mixup(alpha: float, num_classes: int) -> BatchTransform:
    """A batch transform mixing each example with another of the batch (Zhang et al., 2018):
    inputs ``λx + (1-λ)x'`` and soft targets ``λy + (1-λ)y'``, ``λ ~ Beta(alpha, alpha)``."""

    def transform(batch: Batch, generator: torch.Generator) -> Batch:
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        mix = float(np.random.default_rng(seed).beta(alpha, alpha))
        partner = torch.randperm(len(batch.indices), generator=generator).to(batch.inputs.device)
        onehot = F.one_hot(batch.labels, num_classes).to(batch.inputs.dtype)
        return dataclasses.replace(
            batch,
            inputs=mix * batch.inputs + (1 - mix) * batch.inputs[partner],
            targets=mix * onehot + (1 - mix) * onehot[partner],
        )

    return transform


def run_mixup(cell: Cell, context: RunContext) -> TrainingResult:
    """Train on mixed batches; clip the gradient norm when ``clip`` is set."""
    params = cell.strategy.params
    splits = context.load_dataset()
    model = context.build_model(splits)
    clip = params["clip"]

    def clip_gradients(model: nn.Module, step: int) -> None:
        nn.utils.clip_grad_norm_(model.parameters(), clip)

    hooks = TrainingHooks(
        batch_transform=mixup(params["alpha"], splits.num_classes),
        after_backward=clip_gradients if clip is not None else None,
    )
    return context.fit(model, splits, context.optimizer(model.parameters()), hooks=hooks)


# -- registration ---------------------------------------------------------------------------------


@hookimpl
def dlbench_register_models(register: Register[ModelSpec]) -> None:
    """Register ``wide_linear``."""
    register(
        ModelSpec(
            name="wide_linear",
            build=build_wide_linear,
            description="one wide hidden layer with dropout",
            params={
                "width": Param(1024, int, "hidden width", minimum=1, maximum=65536),
                "dropout": Param(0.1, float, "dropout", minimum=0, maximum=1),
            },
        )
    )


@hookimpl
def dlbench_register_datasets(register: Register[DatasetSpec]) -> None:
    """Register ``blobs`` and ``wine``."""
    register(
        DatasetSpec(
            name="blobs",
            load=load_blobs,
            description="Gaussian blobs, 16-d, 4 classes",
            input_shape=(16,),
            num_classes=4,
            params=SPLIT_PARAMS,
        )
    )
    register(
        DatasetSpec(
            name="wine",
            load=load_wine,
            description="scikit-learn wine: 13 features per row, 3 classes (embedded)",
            input_shape=(13,),
            num_classes=3,
            params=SPLIT_PARAMS,
        )
    )


@hookimpl
def dlbench_register_strategies(register: Register[StrategySpec]) -> None:
    """Register ``label_smooth`` and ``mixup``."""
    register(
        StrategySpec(
            name="label_smooth",
            run=run_label_smooth,
            description="cross-entropy with label smoothing",
            params={
                **TRAINING_PARAMS,
                "smoothing": Param(
                    0.1, float, "weight of the uniform target", minimum=0, maximum=1
                ),
            },
        )
    )
    register(
        StrategySpec(
            name="mixup",
            run=run_mixup,
            description="mixup of inputs and targets, with optional gradient clipping",
            params={
                **TRAINING_PARAMS,
                "alpha": Param(
                    0.4,
                    float,
                    "Beta(alpha, alpha) mixing weights",
                    minimum=0,
                    exclusive_minimum=True,
                ),
                "clip": Param(
                    None,
                    float,
                    "largest gradient norm (null: no clipping)",
                    minimum=0,
                    exclusive_minimum=True,
                    nullable=True,
                ),
            },
        )
    )
