"""The conformance kit passes a good plugin and fails broken ones, each with its reason."""

from __future__ import annotations

import pytest
from inline_plugins import ThreeClassDatasetPlugin, load_three_classes
from torch import nn

from dlbench import DatasetSpec, ModelSpec, Param, StrategySpec, hookimpl
from dlbench.bench.testing import (
    ConformanceError,
    check_dataset,
    check_model,
    check_strategy,
    load_plugin,
)
from dlbench.engine.splits import SPLIT_PARAMS


def test_built_in_and_inline_plugins_conform(tmp_path) -> None:
    catalog = load_plugin(ThreeClassDatasetPlugin())
    check_model(catalog, "mlp")
    check_model(catalog, "residual_cnn", input_shapes=[(3, 16, 16)], class_counts=[10])
    check_dataset(catalog, "three_classes", tmp_path)
    check_strategy(catalog, "plain", tmp_path)
    check_strategy(catalog, "distill", tmp_path / "d", extra="teacher: {from: teacher}")


class WrongOutputModel:
    @hookimpl
    def dlbench_register_models(self, register):
        register(
            ModelSpec(
                name="broken_model",
                build=lambda shape, classes: nn.Flatten(),
                description="no head",
            )
        )


class WrongShapeDataset:
    @hookimpl
    def dlbench_register_datasets(self, register):
        register(
            DatasetSpec(
                name="broken_data",
                load=load_three_classes,
                description="says 3x8x8, loads 1x8x8",
                input_shape=(3, 8, 8),
                num_classes=3,
                params=SPLIT_PARAMS,
            )
        )


def crash(cell, context):
    raise RuntimeError("nothing works")


class CrashingStrategy:
    @hookimpl
    def dlbench_register_strategies(self, register):
        register(
            StrategySpec(
                name="broken_strategy",
                run=crash,
                description="always fails",
                params={"epochs": Param(1, int, minimum=1)},
            )
        )


class MisspeltHook:
    @hookimpl
    def dlbench_register_model(self, register):
        pass


@pytest.mark.parametrize(
    ("plugin", "check", "pattern"),
    [
        (
            WrongOutputModel(),
            lambda c, d: check_model(c, "broken_model"),
            r"gives output \(2, 64\), expected \(2, 2\)",
        ),
        (
            WrongShapeDataset(),
            lambda c, d: check_dataset(c, "broken_data", d),
            r"declares input shape \(3, 8, 8\) but loads \(1, 8, 8\)",
        ),
        (
            CrashingStrategy(),
            lambda c, d: check_strategy(c, "broken_strategy", d),
            r"failed a tiny run: RuntimeError: nothing works",
        ),
        (MisspeltHook(), None, r"does not register cleanly.*dlbench_register_model"),
    ],
    ids=["model-output", "dataset-shape", "strategy-crash", "misspelt-hook"],
)
def test_the_kit_fails_broken_plugins(plugin, check, pattern, tmp_path) -> None:
    with pytest.raises(ConformanceError, match=pattern):
        catalog = load_plugin(plugin)
        check(catalog, tmp_path)
    assert issubclass(ConformanceError, AssertionError)
