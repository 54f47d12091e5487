"""scikit-learn's handwritten digits: 1,797 real 8x8 images shipped inside the package.

The embedded default: it needs no download, so examples and tests run anywhere.
"""

from __future__ import annotations

import torch

from dlbench import (
    IMAGE_PARAMS,
    DatasetRequest,
    DatasetSpec,
    DatasetSplits,
    Param,
    Register,
    Split,
    hookimpl,
    make_splits,
    split_off,
)

#: The seed of digits' held-out test split, the same for every run.
TEST_SPLIT_SEED = 0

DIGITS_PARAMS = {
    **IMAGE_PARAMS,
    "test_fraction": Param(
        0.2,
        float,
        "share held out as the test split (digits has none)",
        minimum=0,
        maximum=1,
        exclusive_minimum=True,
        exclusive_maximum=True,
    ),
}


def load_digits(request: DatasetRequest) -> DatasetSplits:
    """Load the digits, hold out a fixed test split, then split train/validation."""
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    # Pixel values are integers 0..16; uint8 keeps them exact and small.
    images = torch.from_numpy(bunch.images).to(torch.uint8).unsqueeze(1)
    full = Split(images, torch.from_numpy(bunch.target).to(torch.int64))
    # The test split is drawn once (seed 0), so runs that redraw their train/validation split
    # (vary: [..., split]) are all tested on the same images.
    rest, test = split_off(full, request.params["test_fraction"], TEST_SPLIT_SEED)
    return make_splits(rest, test, scale=16.0, num_classes=10, params=request.params)


@hookimpl
def dlbench_register_datasets(register: Register[DatasetSpec]) -> None:
    """Register ``digits``."""
    register(
        DatasetSpec(
            name="digits",
            load=load_digits,
            description="scikit-learn handwritten digits, 8x8 grey, 10 classes (embedded)",
            input_shape=(1, 8, 8),
            num_classes=10,
            params=DIGITS_PARAMS,
        )
    )
