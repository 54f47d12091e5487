"""The training engine and the built-in models."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import toy_splits
from torch import nn

from dlbench import Normalization, Split
from dlbench.engine.batches import BatchNormalizer, evaluate
from dlbench.engine.loop import FitConfig, TrainingDiverged, fit
from dlbench.engine.optim import TRAINING_PARAMS, make_optimizer, make_scheduler
from dlbench.engine.splits import channel_normalization, split_off
from dlbench.registry.params import resolve_params

SHAPES = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "cifar": (3, 32, 32), "vector": (20,)}


def model_names():
    from dlbench.bench.host import load_catalog

    return load_catalog(load_entry_points=False).models.names()


@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
@pytest.mark.parametrize("num_classes", [10, 100])
@pytest.mark.parametrize("name", model_names())
def test_every_model_builds_for_any_declared_shape(catalog, name, shape, num_classes) -> None:
    spec = catalog.models.get(name)
    if spec.refuses(shape):
        pytest.skip(spec.refuses(shape))
    params = resolve_params(spec.params, {}, name)
    model = spec.build(shape, num_classes, **params)
    assert model(torch.zeros(3, *shape)).shape == (3, num_classes)


@pytest.mark.parametrize("depth", [2, 4, 10])
def test_mlp_depth_counts_linear_layers(catalog, depth) -> None:
    for name in ("mlp", "residual_mlp"):
        model = catalog.models.get(name).build(
            (1, 28, 28), 10, depth=depth, hidden=512, activation="relu"
        )
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        assert len(linears) == depth
        assert (linears[0].in_features, linears[0].out_features) == (784, 512)
        assert linears[-1].out_features == 10


def test_residual_mlp_adds_skip_connections(catalog) -> None:
    torch.manual_seed(0)
    plain = catalog.models.get("mlp").build((4,), 3, depth=4, hidden=8, activation="relu")
    residual = catalog.models.get("residual_mlp").build(
        (4,), 3, depth=4, hidden=8, activation="relu"
    )
    residual.load_state_dict(plain.state_dict())
    for block in list(plain.blocks) + list(residual.blocks):
        nn.init.zeros_(block[0].weight)
        nn.init.zeros_(block[0].bias)
    inputs = torch.randn(5, 4)
    # Zeroed hidden layers kill the plain signal, while skips carry the stem's output through.
    assert torch.allclose(plain(inputs), plain.head.bias.expand(5, 3))
    stem = residual.stem(inputs)
    assert torch.allclose(residual(inputs), residual.head(stem))


def test_split_is_seeded_disjoint_and_complete() -> None:
    split = Split(torch.arange(100).reshape(100, 1), torch.arange(100))
    rest, held = split_off(split, 0.2, seed=3)
    again_rest, again_held = split_off(split, 0.2, seed=3)
    other_rest, _ = split_off(split, 0.2, seed=4)
    assert (len(rest), len(held)) == (80, 20)
    assert torch.equal(rest.targets, again_rest.targets)
    assert torch.equal(held.targets, again_held.targets)
    assert not torch.equal(rest.targets, other_rest.targets)
    assert sorted(torch.cat([rest.targets, held.targets]).tolist()) == list(range(100))


def test_split_refuses_an_empty_side() -> None:
    with pytest.raises(ValueError, match="empty split"):
        split_off(Split(torch.zeros(3, 1), torch.zeros(3)), 0.01, seed=0)


def test_batch_normalizer_standardises_each_channel() -> None:
    torch.manual_seed(0)
    images = torch.randint(0, 256, (500, 3, 4, 4), dtype=torch.uint8)
    images[:, 1] //= 4
    normalization = channel_normalization(images, 255.0)
    normalized = BatchNormalizer(normalization, 3, torch.device("cpu"))(images)
    per_channel = normalized.transpose(0, 1).reshape(3, -1)
    assert torch.allclose(per_channel.mean(dim=1), torch.zeros(3), atol=1e-4)
    assert torch.allclose(per_channel.std(dim=1), torch.ones(3), atol=1e-3)


def toy_fit(seed: int, epochs: int = 5, **overrides):
    torch.manual_seed(seed)
    model = nn.Linear(2, 2)
    params = resolve_params(TRAINING_PARAMS, {"lr": 0.05, "epochs": epochs, **overrides}, "test")
    optimizer = make_optimizer(model.parameters(), params, torch.device("cpu"))
    seen = []
    result = fit(
        model,
        toy_splits(),
        optimizer,
        FitConfig(epochs, 32, 64, seed),
        scheduler=make_scheduler(optimizer, params),
        on_epoch=lambda epoch, metrics: seen.append(epoch),
    )
    return result, seen


def test_fit_learns_and_reports_best_and_last() -> None:
    result, seen = toy_fit(seed=0)
    assert seen == [1, 2, 3, 4, 5]
    assert len(result.epochs) == 5
    final = result.final
    assert final["val_acc@best"] >= 0.9
    assert final["val_acc@best"] == max(e["val_acc"] for e in result.epochs)
    assert final["val_acc@last"] == result.epochs[-1]["val_acc"]
    assert result.epochs[final["best_epoch"] - 1]["val_acc"] == final["val_acc@best"]
    assert {"test_acc@best", "test_acc@last", "images_per_second", "parameters"} <= set(final)
    assert final["parameters"] == 6


def test_fit_is_deterministic_for_a_seed() -> None:
    first, _ = toy_fit(seed=1)
    second, _ = toy_fit(seed=1)
    third, _ = toy_fit(seed=2)
    strip = lambda r: [{k: v for k, v in e.items() if k != "seconds"} for e in r.epochs]  # noqa: E731
    assert strip(first) == strip(second)
    assert strip(first) != strip(third)


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_each_optimizer_trains(optimizer) -> None:
    result, _ = toy_fit(seed=0, optimizer=optimizer, momentum=0.9)
    assert result.final["val_acc@best"] > 0.8


def test_schedules_change_the_learning_rate() -> None:
    result, _ = toy_fit(seed=0, epochs=4, schedule="step", step_size=2, gamma=0.5)
    assert [e["lr"] for e in result.epochs] == [0.05, 0.05, 0.025, 0.025]
    cosine, _ = toy_fit(seed=0, epochs=4, schedule="cosine")
    assert cosine.epochs[-1]["lr"] < cosine.epochs[0]["lr"]


def test_nesterov_without_momentum_is_refused() -> None:
    with pytest.raises(ValueError, match="'nesterov' needs 'momentum' > 0"):
        toy_fit(seed=0, optimizer="sgd", nesterov=True)


def test_divergence_stops_the_cell() -> None:
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def exploding(logits, batch):
        return logits.sum() * math.nan, {}

    with pytest.raises(TrainingDiverged, match="diverged at epoch 1"):
        fit(model, toy_splits(), optimizer, FitConfig(3, 32, 64, 0), loss_fn=exploding)


def test_loss_fn_sees_training_indices() -> None:
    splits = toy_splits(with_test=False)
    model = nn.Linear(2, 2)
    seen: list[torch.Tensor] = []

    def recording(logits, batch):
        seen.append(batch.indices)
        assert torch.equal(splits.train.targets[batch.indices], batch.targets)
        loss = nn.functional.cross_entropy(logits, batch.targets)
        return loss, {"half": loss / 2}

    result = fit(
        model,
        splits,
        torch.optim.SGD(model.parameters(), lr=0.1),
        FitConfig(1, 50, 64, 0),
        loss_fn=recording,
    )
    assert sorted(torch.cat(seen).tolist()) == list(range(len(splits.train)))
    assert result.epochs[0]["train_half"] == pytest.approx(result.epochs[0]["train_loss"] / 2)


def test_normalising_float_data_leaves_it_unchanged() -> None:
    splits = toy_splits()
    before = splits.val.inputs.clone()
    normalize = BatchNormalizer(Normalization(2.0, (0.5,), (0.25,)), 1, torch.device("cpu"))
    model = nn.Linear(2, 2)
    first = evaluate(model, splits.val, normalize, 16)
    second = evaluate(model, splits.val, normalize, 16)
    assert torch.equal(splits.val.inputs, before)
    assert first == second
