"""Datasets read through torchvision's own loaders (and downloaded by them when allowed)."""

from __future__ import annotations

from pathlib import Path

import torch

from bench.engine.splits import SPLIT_PARAMS, make_splits
from registry import DatasetRequest, DatasetSpec, DatasetSplits, Split, hookimpl
from registry.errors import DataUnavailableError

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def load_mnist(request: DatasetRequest) -> DatasetSplits:
    """MNIST: 60,000 training images split train/validation, and the official 10,000 test."""
    from torchvision.datasets import MNIST

    root = Path(request.data_root)
    raw = root / "MNIST" / "raw"
    if not request.download and not all((raw / name).exists() for name in MNIST_FILES):
        raise DataUnavailableError(
            f"MNIST not found in {raw} (expected {', '.join(MNIST_FILES)}); "
            "allow downloading, or point --data-root or DLBENCH_DATA at a folder holding MNIST/raw"
        )
    try:
        train = MNIST(str(root), train=True, download=request.download)
        test = MNIST(str(root), train=False, download=request.download)
    except (RuntimeError, OSError, ValueError) as exc:
        raise DataUnavailableError(f"MNIST could not be read from {raw}: {exc}") from exc
    return make_splits(
        _as_split(train.data, train.targets),
        _as_split(test.data, test.targets),
        scale=255.0,
        num_classes=10,
        params=request.params,
    )


def _as_split(images: torch.Tensor, targets: torch.Tensor) -> Split:
    # torchvision keeps MNIST as uint8 (N, 28, 28); add the channel dimension.
    return Split(images.unsqueeze(1).contiguous(), targets.to(torch.int64))


@hookimpl
def dlbench_register_datasets(register):  # type: ignore[no-untyped-def]
    """Register ``mnist``."""
    register(
        DatasetSpec(
            name="mnist",
            load=load_mnist,
            description="MNIST handwritten digits, 28x28 grey, 10 classes (torchvision)",
            input_shape=(1, 28, 28),
            num_classes=10,
            params=SPLIT_PARAMS,
        )
    )
