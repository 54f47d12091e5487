"""CIFAR-10/100 through torchvision's real loaders, on small files written in CIFAR's own format;
batch augmentation; the CNN models."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import write_cifar

from dlbench import DatasetRequest, DataUnavailableError
from dlbench.engine.augment import random_crop, random_flip
from dlbench.engine.model_card import model_card
from dlbench.registry.params import resolve_params


@pytest.fixture
def trust_written_files(monkeypatch) -> None:
    """torchvision checks CIFAR's md5 sums; written files cannot match them (tests only)."""
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda *args: True)


def load(catalog, name: str, root: Path, **params):
    spec = catalog.datasets.get(name)
    return spec.load(DatasetRequest(resolve_params(spec.params, params, name), root, False))


@pytest.mark.parametrize(("name", "classes"), [("cifar10", 10), ("cifar100", 100)])
def test_cifar_loads_through_torchvision(catalog, tmp_path, trust_written_files, name, classes):
    splits = load(catalog, name, write_cifar(tmp_path, classes))
    assert splits.input_shape == (3, 32, 32)
    assert splits.num_classes == classes
    assert splits.train.inputs.dtype == torch.uint8
    assert (len(splits.train), len(splits.val), len(splits.test)) == (80, 20, 20)
    for split in (splits.train, splits.val, splits.test):
        encoded = split.inputs[:, 0, 0, 0].long() // (255 // classes)
        assert torch.equal(encoded, split.targets)
    assert len(splits.normalization.mean) == 3


def test_cifar_missing_without_download(catalog, tmp_path) -> None:
    with pytest.raises(DataUnavailableError, match=r"CIFAR-10 not found in .*cifar-10-batches-py"):
        load(catalog, "cifar10", tmp_path)


def test_cifar_integrity_check_stays_in_the_product(catalog, tmp_path) -> None:
    # Without the test's patch, torchvision's md5 check rejects files that are not the real ones.
    with pytest.raises(DataUnavailableError, match="could not be read"):
        load(catalog, "cifar10", write_cifar(tmp_path, 10))


def test_augmentation_is_named_and_recorded(catalog, tmp_path, trust_written_files) -> None:
    splits = load(catalog, "cifar10", write_cifar(tmp_path, 10), augment="crop+flip")
    assert (splits.augmentation.crop_padding, splits.augmentation.flip) == (4, True)
    plain = load(catalog, "cifar10", tmp_path, augment="none")
    assert not plain.augmentation.active


def test_train_subset_keeps_the_head_of_the_shuffled_split(
    catalog, tmp_path, trust_written_files
) -> None:
    root = write_cifar(tmp_path, 10)
    full = load(catalog, "cifar10", root)
    subset = load(catalog, "cifar10", root, train_subset=16)
    assert torch.equal(subset.train.inputs, full.train.inputs[:16])
    assert torch.equal(subset.val.inputs, full.val.inputs)


def test_random_flip_mirrors_whole_images() -> None:
    torch.manual_seed(0)
    batch = torch.arange(2 * 3 * 4 * 5, dtype=torch.uint8).reshape(2, 3, 4, 5).repeat(16, 1, 1, 1)
    flipped = random_flip(batch)
    same = [torch.equal(a, b) for a, b in zip(flipped, batch, strict=True)]
    mirrored = [torch.equal(a, b.flip(-1)) for a, b in zip(flipped, batch, strict=True)]
    assert all(s or m for s, m in zip(same, mirrored, strict=True))
    assert 0 < sum(mirrored) < len(batch)


def test_random_crop_shifts_content_within_the_padding() -> None:
    torch.manual_seed(0)
    image = torch.zeros(1, 1, 8, 8, dtype=torch.uint8)
    image[0, 0, 3, 3] = 255
    crops = random_crop(image.repeat(64, 1, 1, 1), padding=2)
    assert crops.shape == (64, 1, 8, 8)
    positions = {tuple(torch.nonzero(c[0])[0].tolist()) for c in crops if c.any()}
    assert len(positions) > 5
    assert all(abs(r - 3) <= 2 and abs(c - 3) <= 2 for r, c in positions)


@pytest.mark.parametrize(
    ("name", "params", "parameters", "conv_layers", "blocks"),
    [
        # The lab's teacher: ResNet-18-like (CIFAR stem), 11.17M parameters.
        ("residual_cnn", {"blocks": 2, "channels": [64, 128, 256, 512]}, 11_173_962, 20, 8),
        # The lab's student: about 0.7M parameters, three blocks.
        ("residual_cnn", {"blocks": 1, "channels": [48, 96, 192]}, 691_834, 9, 3),
        ("cnn", {"blocks": 1, "channels": [48, 96, 192]}, 668_218, 7, 3),
        (
            "residual_cnn",
            {"blocks": 1, "channels": [48, 96, 192], "shortcut": "zero_pad"},
            668_218,
            7,
            3,
        ),
    ],
    ids=["teacher", "student", "plain-student", "zero-pad-student"],
)
def test_cnn_parameter_counts(catalog, name, params, parameters, conv_layers, blocks) -> None:
    spec = catalog.models.get(name)
    model = spec.build((3, 32, 32), 10, **resolve_params(spec.params, params, name))
    card = model_card(model)
    assert (card["parameters"], card["conv_layers"], card["blocks"]) == (
        parameters,
        conv_layers,
        blocks,
    )
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_residual_and_plain_cnn_differ_only_by_skips(catalog) -> None:
    torch.manual_seed(0)
    plain = catalog.models.get("cnn").build((3, 16, 16), 10, blocks=2, channels=(8, 16))
    residual = catalog.models.get("residual_cnn").build(
        (3, 16, 16), 10, blocks=2, channels=(8, 16), shortcut="zero_pad"
    )
    assert plain.state_dict().keys() == residual.state_dict().keys()
    residual.load_state_dict(plain.state_dict())
    inputs = torch.randn(4, 3, 16, 16)
    assert not torch.allclose(plain.eval()(inputs), residual.eval()(inputs))
