"""Plugins defined inline for tests: a fast fake strategy and a tiny model, through public hooks."""

from __future__ import annotations

import torch
from torch import nn

from dlbench import (
    Cell,
    DatasetRequest,
    DatasetSpec,
    DatasetSplits,
    ModelSpec,
    Param,
    RunContext,
    Split,
    StrategySpec,
    TrainingResult,
    hookimpl,
)
from dlbench.engine.splits import SPLIT_PARAMS, make_splits

#: Cell ids in the order ``fake`` ran them, so tests can see what trained.
RUNS: list[str] = []


def run_fake(cell: Cell, context: RunContext) -> TrainingResult:
    """Pretend to train: accuracy is a function of the parameters; ``fail: true`` raises."""
    RUNS.append(cell.id)
    params = cell.strategy.params
    if params["fail"]:
        raise RuntimeError("planned failure")
    if params["interrupt"]:
        raise KeyboardInterrupt
    epochs = []
    for epoch in range(1, params["epochs"] + 1):
        acc = params["quality"] * epoch / params["epochs"] + cell.seed / 1000
        metrics = {"epoch": epoch, "train_loss": 1 - acc, "val_acc": acc, "val_loss": 1 - acc}
        epochs.append(metrics)
        context.epoch_end(epoch, metrics)
    final = {
        "best_epoch": params["epochs"],
        "val_acc@best": epochs[-1]["val_acc"],
        "val_acc@last": epochs[-1]["val_acc"],
        "train_seconds": 0.0,
    }
    return TrainingResult(epochs=epochs, final=final)


class FakeStrategyPlugin:
    """Registers strategy ``fake``."""

    @hookimpl
    def dlbench_register_strategies(self, register):  # type: ignore[no-untyped-def]
        register(
            StrategySpec(
                name="fake",
                run=run_fake,
                description="instant fake training",
                params={
                    "epochs": Param(2, int, minimum=1),
                    "quality": Param(0.5, float, minimum=0, maximum=1),
                    "fail": Param(False, bool),
                    "interrupt": Param(False, bool),
                },
            )
        )


def build_linear(input_shape: tuple[int, ...], num_classes: int, *, bias: bool) -> nn.Module:
    """A single linear layer."""
    features = int(torch.tensor(input_shape).prod())
    return nn.Sequential(nn.Flatten(), nn.Linear(features, num_classes, bias=bias))


class VectorOnlyModelPlugin:
    """Registers ``vector_linear``, which refuses anything but flat vector inputs."""

    @hookimpl
    def dlbench_register_models(self, register):  # type: ignore[no-untyped-def]
        register(
            ModelSpec(
                name="vector_linear",
                build=build_linear,
                description="linear on flat vectors only",
                params={"bias": Param(True, bool)},
                input_ranks=frozenset({1}),
            )
        )


def load_three_classes(request: DatasetRequest) -> DatasetSplits:
    """Random 8x8 images in three classes, shaped like the digits."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 17, (120, 1, 8, 8), generator=generator, dtype=torch.uint8)
    full = Split(images, torch.arange(120) % 3)
    return make_splits(full, None, scale=16.0, num_classes=3, params=request.params)


class ThreeClassDatasetPlugin:
    """Registers ``three_classes``: digit-shaped inputs, three classes."""

    @hookimpl
    def dlbench_register_datasets(self, register):  # type: ignore[no-untyped-def]
        register(
            DatasetSpec(
                name="three_classes",
                load=load_three_classes,
                description="three classes of noise",
                input_shape=(1, 8, 8),
                num_classes=3,
                params=SPLIT_PARAMS,
            )
        )
