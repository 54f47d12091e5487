"""Transfer learning: the finetune strategy's modes, on tiny written CIFAR files; timm models."""

from __future__ import annotations

import io
import json

import pytest
import torch
from helpers import toy_splits, write_cifar
from torch import nn

import dlbench.plugins.strategies.finetune as finetune
from dlbench import Cell, Component, DlbenchError
from dlbench.bench.matrix import load_matrix
from dlbench.bench.results.store import ResultStore
from dlbench.bench.run.progress import LineProgress
from dlbench.bench.run.runner import run_matrix
from dlbench.bench.run.services import RunSettings
from dlbench.engine.loop import FitConfig, fit
from dlbench.engine.optim import make_optimizer
from dlbench.engine.transfer import TransferModel, detach_head
from dlbench.registry.params import resolve_params

MATRIX = """\
name: transfer
defaults:
  model: {name: residual_cnn, blocks: 1, channels: [4, 8]}
  strategy: {name: plain, epochs: 1, batch_size: 32}
experiments:
  source:
    dataset: cifar10
  features:
    dataset: cifar100
    strategy: {name: finetune, backbone: {from: source}, mode: features,
               classifier: [svm, knn, logreg]}
  tuned:
    dataset: cifar100
    strategy: {name: finetune, backbone: {from: source}, mode: [linear_probe, full],
               epochs: 2, freeze_epochs: 1, backbone_lr_scale: 0.25, lr: 0.04}
"""


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda *args: True)
    return write_cifar(write_cifar(tmp_path / "data", 10), 100)


def run(catalog, path, out, data_root):
    matrix = load_matrix(path, catalog)
    store = ResultStore.open(out, matrix.name)
    settings = RunSettings(torch.device("cpu"), data_root, download=False, threads=1)
    return run_matrix(matrix, store, catalog, settings, LineProgress(io.StringIO()))


def records(out):
    return {
        (
            r["cell"]["strategy"]["params"].get("mode"),
            r["cell"]["strategy"]["params"].get("classifier"),
        ): r
        for r in (json.loads(p.read_text()) for p in (out / "cells").glob("*.json"))
    }


def test_every_mode_runs_and_features_are_extracted_once(
    catalog, write_matrix, tmp_path, data_root, monkeypatch
) -> None:
    extracted: list[int] = []
    real = finetune.predict

    def counting(model, inputs, normalize, batch_size):
        extracted.append(len(inputs))
        return real(model, inputs, normalize, batch_size)

    monkeypatch.setattr(finetune, "predict", counting)
    summary = run(catalog, write_matrix(MATRIX), tmp_path / "out", data_root)
    assert summary.ran == 6 and not summary.failed, summary.failed
    # Train, validation and test features once, for three classifier cells.
    assert extracted == [80, 20, 20]
    assert len(list((tmp_path / "out" / "artifacts" / "cache").glob("*.pt"))) == 3
    found = records(tmp_path / "out")
    for classifier in ("svm", "knn", "logreg"):
        final = found[("features", classifier)]["final"]
        assert 0 <= final["val_acc@best"] <= 1 and 0 <= final["test_acc@best"] <= 1
    assert found[("features", "knn")]["final"]["trainable_parameters"] == 0
    # One weight row and bias per class present in the tiny training set; 8 features.
    assert found[("features", "logreg")]["final"]["trainable_parameters"] % 9 == 0
    assert found[("linear_probe", "logreg")]["final"]["trainable_parameters"] == 8 * 100 + 100
    full = found[("full", "logreg")]
    assert full["final"]["trainable_parameters"] == full["model_card"]["parameters"]


def test_finetune_needs_the_backbones_model(catalog, write_matrix, tmp_path, data_root) -> None:
    text = MATRIX.replace(
        "  features:\n    dataset: cifar100",
        "  features:\n    dataset: cifar100\n    model: {name: residual_cnn, "
        "blocks: 1, channels: [4, 16]}",
    )
    summary = run(catalog, write_matrix(text), tmp_path / "out", data_root)
    assert len(summary.failed) == 3
    assert "differs from the backbone's" in summary.failed[0].error


def transfer_model() -> TransferModel:
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    backbone, features = detach_head(backbone)
    return TransferModel(backbone, features, 2)


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_frozen_backbone_is_unchanged_weights_and_statistics() -> None:
    model = transfer_model()
    model.freeze(True)
    before, head_before = snapshot(model.backbone), snapshot(model.head)
    optimizer = torch.optim.SGD(model.head.parameters(), lr=0.5)
    fit(model, toy_splits(), optimizer, FitConfig(2, 16, 64, 0))
    after = snapshot(model.backbone)
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN running stats included
    assert not all(torch.equal(head_before[k], v) for k, v in snapshot(model.head).items())


def test_gradual_unfreeze_and_backbone_learning_rate(catalog) -> None:
    params = resolve_params(
        finetune.FINETUNE_PARAMS,
        {"mode": "full", "lr": 0.2, "backbone_lr_scale": 0.25, "freeze_epochs": 1, "epochs": 2},
        "finetune",
    )
    context = FakeContext(params)
    cell = Cell(Component("m"), Component("d"), Component("finetune", params), seed=0)
    finetune.run_finetune(cell, context)
    # head: weight, bias; backbone: 2 Linear + BN
    assert context.groups_seen == [[(2, 0.2), (4, 0.05)]]
    first, after_epoch_1, after_epoch_2 = context.states
    kept = after_epoch_1.keys()  # the classifier was cut off before training
    assert all(torch.equal(first[k], after_epoch_1[k]) for k in kept)  # frozen in epoch 1
    assert not all(torch.equal(first[k], after_epoch_2[k]) for k in kept)  # trains in epoch 2


class FakeContext:
    """Just enough of a run context to call a strategy directly."""

    device = torch.device("cpu")

    def __init__(self, params) -> None:
        self.params = params
        self.states: list[dict[str, torch.Tensor]] = []
        self.backbone: nn.Module | None = None
        self.groups_seen: list[list[tuple[int, float]]] = []

    def optimizer(self, groups, params=None):
        groups = list(groups)
        self.groups_seen.append([(len(g["params"]), g["lr"]) for g in groups])
        return make_optimizer(groups, self.params, self.device)

    def fit(self, model, splits, optimizer, *, loss_fn=None, hooks=None, scheduler="cell"):
        config = FitConfig.from_params(self.params, 0)
        return fit(model, splits, optimizer, config, hooks=hooks, on_epoch=self.epoch_end)

    def load_dataset(self):
        return toy_splits()

    def build_model(self, splits):
        torch.manual_seed(0)
        self.backbone = nn.Sequential(
            nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2)
        )
        self.states.append(snapshot(self.backbone))
        return self.backbone

    def epoch_end(self, epoch, metrics):
        self.states.append(snapshot(self.backbone))

    def trained_model(self, model):
        pass


def test_detach_head_needs_a_linear_classifier() -> None:
    with pytest.raises(DlbenchError, match="no linear classifier"):
        detach_head(nn.Sequential(nn.Conv2d(1, 2, 3)))


@pytest.mark.parametrize("classes", [10, 100])
def test_timm_model_builds_for_the_dataset(catalog, classes) -> None:
    spec = catalog.models.get("timm:resnet18")
    params = resolve_params(spec.params, {}, "timm:resnet18")
    model = spec.build((3, 32, 32), classes, **params)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, classes)
    grey = spec.build((1, 8, 8), classes, **params)
    assert grey(torch.zeros(2, 1, 8, 8)).shape == (2, classes)


def test_timm_loads_local_pretrained_weights_and_replaces_the_classifier(catalog, tmp_path) -> None:
    import timm

    torch.manual_seed(0)
    source = timm.create_model("resnet18", num_classes=1000)
    weights = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), weights)
    spec = catalog.models.get("timm:resnet18")
    model = spec.build((3, 32, 32), 100, pretrained_file=str(weights), drop_rate=0.0)
    assert torch.equal(model.conv1.weight, source.conv1.weight)
    assert model.fc.out_features == 100
    with pytest.raises(DlbenchError, match="no such file"):
        spec.build((3, 32, 32), 100, pretrained_file=str(tmp_path / "nope.pth"), drop_rate=0.0)


def test_timm_names_resolve_on_demand_with_suggestions(catalog) -> None:
    assert "timm:resnet18" in catalog.models
    assert "timm:resnet18" in catalog.models.names("timm:resnet1*")
    assert not any(name.startswith("timm:") for name in catalog.models.names())
    with pytest.raises(DlbenchError, match="did you mean 'timm:resnet18'"):
        catalog.models.get("timm:resnet18x")


def test_pretrained_file_is_relative_to_the_matrix(catalog, write_matrix, tmp_path) -> None:
    text = (
        "name: p\ndefaults: {dataset: digits, strategy: plain}\n"
        "experiments:\n  e:\n    model: {name: 'timm:resnet18', pretrained_file: w/r18.pth}\n"
    )
    (cell,) = load_matrix(write_matrix(text), catalog).unique_cells()
    assert cell.model.params["pretrained_file"] == str(tmp_path / "w" / "r18.pth")
