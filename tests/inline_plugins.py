"""Plugins defined inline for tests: a fast fake strategy and a tiny model, through public hooks."""

from __future__ import annotations

import textwrap

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


#: A plugin module (source text) registering the model ``edited``, whose code tests edit;
#: ``logits`` set gives it the wrong output shape on purpose.
MODEL_PLUGIN = """\
from torch import nn

import dlbench


def build(input_shape, num_classes, *, width, logits):
    # the model under test
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, width), nn.ReLU(), nn.Linear(width, logits or num_classes)
    )


@dlbench.hookimpl
def dlbench_register_models(register):
    register(
        dlbench.ModelSpec(
            name="edited",
            build=build,
            description="a model whose code a test edits",
            params={
                "width": dlbench.Param(8, int, "hidden width", minimum=1),
                "logits": dlbench.Param(None, int, "wrong on purpose", nullable=True),
            },
        )
    )
"""

#: A matrix of one ``edited`` cell on the embedded digits.
EDITED_MATRIX = """\
name: api
defaults:
  dataset: {name: digits, train_subset: 64}
  strategy: {name: plain, epochs: 1}
experiments:
  e:
    model: {name: edited}
    tables:
      - {rows: model.width, metric: val_acc}
"""


def failing_strategy(
    name: str,
    failure: str,
    description: str,
    *,
    preamble: str = "",
    params: str = "dlbench.TRAINING_PARAMS",
) -> str:
    """Source of a plugin module registering the strategy ``name``: each run first executes
    ``failure`` (Python lines with ``cell`` and ``context`` in scope, meant to raise for some
    cells), then trains as ``plain`` does. ``preamble`` goes at module level after the imports,
    ``params`` is the expression for the strategy's parameters."""
    body = textwrap.indent(textwrap.dedent(failure).strip(), "    ")
    return (
        "from pathlib import Path\n\nimport torch\n\nimport dlbench\n\n"
        + textwrap.dedent(preamble).strip()
        + "\n\n\ndef run(cell, context):\n"
        + body
        + "\n    splits = context.load_dataset()\n"
        "    model = context.build_model(splits)\n"
        "    return context.fit(model, splits, context.optimizer(model.parameters()))\n\n\n"
        "@dlbench.hookimpl\n"
        "def dlbench_register_strategies(register):\n"
        "    register(dlbench.StrategySpec(\n"
        f"        name={name!r}, run=run, description={description!r}, params={params}\n"
        "    ))\n"
    )


#: The ``plain`` strategy plus the parameter ``switch``: runs fail while that file exists.
FLAKY = failing_strategy(
    "flaky",
    """
    if Path(cell.strategy.params["switch"]).exists():
        raise RuntimeError("the data is no longer reachable")
    """,
    "fails while a file exists",
    params='{**dlbench.TRAINING_PARAMS, "switch": dlbench.Param("", str, "fail if it exists")}',
)


#: A matrix of one cell of the strategy ``helped`` (a plugin's) on the embedded digits.
HELPED_MATRIX = """\
name: helped
defaults:
  dataset: {name: digits, train_subset: 64}
  model: {name: mlp, hidden: 8, depth: 2}
experiments:
  e:
    strategy: {name: helped, epochs: 1}
    tables:
      - {rows: model.depth, metric: val_acc}
"""
