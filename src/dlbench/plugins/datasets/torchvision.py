"""MNIST, CIFAR-10 and CIFAR-100 through torchvision's own loaders (which also download them).

Each split is kept as one uint8 tensor of shape (N, C, H, W); normalisation and augmentation
happen per batch on the training device.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlbench import (
    IMAGE_PARAMS,
    DatasetRequest,
    DatasetSpec,
    DatasetSplits,
    DataUnavailableError,
    Register,
    Split,
    hookimpl,
    make_splits,
)


@dataclass(frozen=True)
class TorchvisionDataset:
    """How to find and read one torchvision dataset.

    :param title: the dataset's usual name, for messages.
    :param folder: where torchvision keeps its files under the data root.
    :param files: the files that must be there when downloading is off.
    :param loader: the torchvision class name.
    """

    title: str
    folder: str
    files: tuple[str, ...]
    loader: str
    num_classes: int
    input_shape: tuple[int, int, int]

    def load(self, request: DatasetRequest) -> DatasetSplits:
        """Read (or download) the dataset and split it."""
        import torchvision.datasets

        root = Path(request.data_root)
        folder = root / self.folder
        if not request.download and not all((folder / name).exists() for name in self.files):
            raise DataUnavailableError(
                f"{self.title} not found in {folder} (expected {', '.join(self.files)}); "
                "allow downloading, or point --data-root or DLBENCH_DATA at a folder holding "
                f"{self.folder}"
            )
        loader: Callable[..., Any] = getattr(torchvision.datasets, self.loader)
        try:
            train = loader(str(root), train=True, download=request.download)
            test = loader(str(root), train=False, download=request.download)
        except (RuntimeError, OSError, ValueError, EOFError) as exc:
            raise DataUnavailableError(
                f"{self.title} could not be read from {folder}: {exc}"
            ) from exc
        return make_splits(
            _as_split(train.data, train.targets),
            _as_split(test.data, test.targets),
            scale=255.0,
            num_classes=self.num_classes,
            params=request.params,
        )


def _as_split(images: torch.Tensor | np.ndarray, targets: Any) -> Split:
    if isinstance(images, np.ndarray):
        # CIFAR keeps (N, H, W, C) numpy arrays.
        inputs = torch.from_numpy(images).permute(0, 3, 1, 2)
    else:
        # MNIST keeps a (N, H, W) tensor.
        inputs = images.unsqueeze(1)
    return Split(inputs.contiguous(), torch.as_tensor(targets, dtype=torch.int64))


MNIST = TorchvisionDataset(
    "MNIST",
    "MNIST/raw",
    (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ),
    "MNIST",
    10,
    (1, 28, 28),
)
CIFAR10 = TorchvisionDataset(
    "CIFAR-10",
    "cifar-10-batches-py",
    (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"),
    "CIFAR10",
    10,
    (3, 32, 32),
)
CIFAR100 = TorchvisionDataset(
    "CIFAR-100",
    "cifar-100-python",
    ("train", "test", "meta"),
    "CIFAR100",
    100,
    (3, 32, 32),
)


@hookimpl
def dlbench_register_datasets(register: Register[DatasetSpec]) -> None:
    """Register ``mnist``, ``cifar10`` and ``cifar100``."""
    for name, source, description in (
        ("mnist", MNIST, "MNIST handwritten digits, 28x28 grey, 10 classes"),
        ("cifar10", CIFAR10, "CIFAR-10 objects, 32x32 colour, 10 classes"),
        ("cifar100", CIFAR100, "CIFAR-100 objects, 32x32 colour, 100 classes"),
    ):
        register(
            DatasetSpec(
                name=name,
                load=source.load,
                description=f"{description} (torchvision)",
                input_shape=source.input_shape,
                num_classes=source.num_classes,
                params=IMAGE_PARAMS,
            )
        )
