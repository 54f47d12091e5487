"""Dataset plugins, read through their real loaders from files written in their own formats."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import write_mnist

from dlbench import DatasetRequest, DataUnavailableError
from dlbench.registry.params import resolve_params


def load(catalog, name: str, root: Path, download: bool = False, **params):
    spec = catalog.datasets.get(name)
    resolved = resolve_params(spec.params, params, name)
    return spec.load(DatasetRequest(resolved, root, download))


def test_mnist_reads_idx_files_through_torchvision(catalog, tmp_path) -> None:
    splits = load(catalog, "mnist", write_mnist(tmp_path))
    assert splits.input_shape == (1, 28, 28)
    assert splits.train.inputs.dtype == torch.uint8
    assert (len(splits.train), len(splits.val), len(splits.test)) == (40, 10, 20)
    assert splits.num_classes == 10
    # The label written into pixel (0, 0) survives the loader and the split.
    for split in (splits.train, splits.val, splits.test):
        assert torch.equal(split.inputs[:, 0, 0, 0].long() // 20, split.targets)
    assert splits.normalization.scale == 255.0


def test_mnist_split_follows_its_seed(catalog, tmp_path) -> None:
    root = write_mnist(tmp_path)
    first = load(catalog, "mnist", root, split_seed=1)
    again = load(catalog, "mnist", root, split_seed=1)
    other = load(catalog, "mnist", root, split_seed=2)
    assert torch.equal(first.val.targets, again.val.targets)
    assert not torch.equal(first.val.inputs, other.val.inputs)


def test_mnist_missing_without_download_says_where_and_what(catalog, tmp_path) -> None:
    with pytest.raises(DataUnavailableError, match=r"MNIST not found in .*MNIST/raw.*--data-root"):
        load(catalog, "mnist", tmp_path)


def test_mnist_truncated_file_is_a_clear_error(catalog, tmp_path) -> None:
    root = write_mnist(tmp_path)
    images = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:1000])
    with pytest.raises(DataUnavailableError, match="MNIST could not be read"):
        load(catalog, "mnist", root)


def test_digits_is_embedded_and_split_three_ways(catalog, tmp_path) -> None:
    splits = load(catalog, "digits", tmp_path)
    assert splits.input_shape == (1, 8, 8)
    sizes = (len(splits.train), len(splits.val), len(splits.test))
    assert sum(sizes) == 1797
    assert sizes == (1150, 288, 359)
    assert int(splits.train.inputs.max()) == 16
    assert not list(tmp_path.iterdir()), "digits must not write to the data root"
