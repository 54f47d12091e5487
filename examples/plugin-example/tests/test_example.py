"""The example plugin checked with dlbench's conformance kit, and its strategies' own promises."""

import dlbench_example
import pytest
import torch
from torch import nn

import dlbench


@pytest.fixture
def catalog():
    return dlbench.load_plugin(dlbench_example)


def test_registers_and_builds(catalog, tmp_path) -> None:
    dlbench.check_model(catalog, "wide_linear")
    dlbench.check_dataset(catalog, "blobs", tmp_path)
    dlbench.check_dataset(catalog, "wine", tmp_path)


def test_wine_features_are_standardised_one_by_one(catalog, tmp_path) -> None:
    spec = catalog.datasets.get("wine")
    request = dlbench.DatasetRequest({"val_fraction": 0.2, "split_seed": 0}, tmp_path, False)
    splits = spec.load(request)
    assert len(splits.normalization.mean) == 13
    normalize = dlbench.BatchNormalizer(splits.normalization, 1, torch.device("cpu"))
    train = normalize(splits.train.inputs)
    assert torch.allclose(train.mean(dim=0), torch.zeros(13), atol=1e-4)
    assert torch.allclose(train.std(dim=0), torch.ones(13), atol=1e-4)


def test_trains_with_a_built_in_strategy(catalog, tmp_path) -> None:
    dlbench.check_strategy(catalog, "plain", tmp_path, model="wide_linear", dataset="blobs")


@pytest.mark.parametrize("strategy", ["label_smooth", "mixup"])
def test_its_strategies_train(catalog, tmp_path, strategy) -> None:
    dlbench.check_strategy(catalog, strategy, tmp_path, extra="clip: 1.0" * (strategy == "mixup"))


def test_a_student_distils_from_a_mixup_trained_teacher(catalog, tmp_path) -> None:
    dlbench.check_strategy(
        catalog, "distill", tmp_path, extra="teacher: {from: teacher}", producer="mixup"
    )


def test_mixup_mixes_inputs_and_targets_alike() -> None:
    labels = torch.tensor([0, 1, 2, 3])
    inputs = torch.eye(4)
    batch = dlbench.Batch(inputs, labels, torch.arange(4), labels)
    mixed = dlbench_example.mixup(0.4, 4)(batch, torch.Generator().manual_seed(0))
    assert torch.allclose(mixed.targets.sum(dim=1), torch.ones(4))
    # With one-hot inputs the mixed inputs are the mixed targets.
    assert torch.allclose(mixed.inputs, mixed.targets)
    assert torch.equal(mixed.labels, labels)
    again = dlbench_example.mixup(0.4, 4)(batch, torch.Generator().manual_seed(0))
    assert torch.equal(again.inputs, mixed.inputs)


def test_clipping_bounds_the_gradient_norm() -> None:
    model = nn.Linear(4, 2)
    for parameter in model.parameters():
        parameter.grad = torch.full_like(parameter, 10.0)
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    norm = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert float(norm) == pytest.approx(1.0, rel=1e-5)
