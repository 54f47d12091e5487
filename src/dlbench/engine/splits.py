"""Helpers dataset plugins share: seeded splits and per-channel statistics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from dlbench.registry.data import Augmentation, DatasetSplits, Normalization, Split
from dlbench.registry.params import Param


def split_off(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Split ``split`` into (rest, held-out) with ``fraction`` held out, by a seeded permutation.

    The permutation comes from its own ``torch.Generator`` so the split depends on ``seed`` only,
    never on how much randomness was drawn before.
    """
    n = len(split)
    held = round(n * fraction)
    if not 0 < held < n:
        raise ValueError(f"a fraction of {fraction} of {n} examples leaves an empty split")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    rest, out = order[held:], order[:held]
    return (
        Split(split.inputs[rest], split.targets[rest]),
        Split(split.inputs[out], split.targets[out]),
    )


def select_classes(split: Split, classes: list[int], num_classes: int) -> Split:
    """The examples of ``classes`` only, relabelled by their position in ``classes``."""
    unknown = [c for c in classes if not 0 <= c < num_classes]
    if unknown or len(set(classes)) != len(classes):
        raise ValueError(
            f"classes {classes}: expected distinct class indices from 0 to {num_classes - 1}"
        )
    relabel = torch.full((num_classes,), -1, dtype=torch.int64)
    relabel[torch.tensor(classes)] = torch.arange(len(classes))
    new_targets = relabel[split.targets]
    keep = new_targets >= 0
    return Split(split.inputs[keep], new_targets[keep])


def channel_normalization(inputs: torch.Tensor, scale: float) -> Normalization:
    """Mean and std of ``inputs / scale`` per channel, or per feature for feature vectors.

    Inputs of shape ``(N, C, ...)`` (images, sequences) get one statistic per channel on dim 1;
    inputs of shape ``(N, F)`` (tabular rows, embeddings) get one per feature, so that features
    on different scales are each standardised; inputs of shape ``(N,)`` get one.
    """
    values = inputs.to(torch.float64) / scale
    if values.dim() >= 3:
        per_channel = values.transpose(0, 1).reshape(values.shape[1], -1)
    elif values.dim() == 2:
        per_channel = values.transpose(0, 1)
    else:
        per_channel = values.reshape(1, -1)
    std = per_channel.std(dim=1).nan_to_num(1.0).clamp_min(1e-8)
    return Normalization(
        scale=scale,
        mean=tuple(float(m) for m in per_channel.mean(dim=1)),
        std=tuple(float(s) for s in std),
    )


SPLIT_PARAMS: dict[str, Param] = {
    "val_fraction": Param(
        0.2,
        float,
        "share of the training set held out for validation",
        minimum=0,
        maximum=1,
        exclusive_minimum=True,
        exclusive_maximum=True,
    ),
    "split_seed": Param(0, int, "seed of the train/validation split (fixed across cell seeds)"),
    "classes": Param(
        None,
        int,
        "keep only these classes, relabelled 0..k-1 in this order (e.g. digits 5-9)",
        minimum=0,
        sequence=True,
        nullable=True,
    ),
    "train_subset": Param(
        None,
        int,
        "keep only this many training examples (for smoke runs)",
        minimum=1,
        nullable=True,
    ),
}
"""A dataset's split parameters, which ``make_splits`` reads: ``val_fraction``,
``split_seed``, ``classes`` and ``train_subset``; a dataset declares them among its own."""

IMAGE_PARAMS: dict[str, Param] = {
    **SPLIT_PARAMS,
    "augment": Param(
        "none",
        str,
        "per-batch training augmentation",
        choices=("none", "flip", "crop", "crop+flip"),
    ),
    "crop_padding": Param(4, int, "padding for 'crop' augmentation, in pixels", minimum=1),
}
"""An image dataset's parameters: ``SPLIT_PARAMS``, ``augment`` and ``crop_padding``."""


def make_splits(
    train_full: Split,
    test: Split | None,
    *,
    scale: float,
    num_classes: int,
    params: Mapping[str, Any],
) -> DatasetSplits:
    """Hold out validation from ``train_full`` and normalise with the training part's statistics.

    :param params: the dataset's resolved parameters: ``val_fraction``, ``split_seed``,
        ``classes``, ``train_subset`` and, for image datasets, ``augment`` and ``crop_padding``.
    """
    if params.get("classes") is not None:
        classes = list(params["classes"])
        train_full = select_classes(train_full, classes, num_classes)
        test = select_classes(test, classes, num_classes) if test is not None else None
        num_classes = len(classes)
    train, val = split_off(train_full, params["val_fraction"], params["split_seed"])
    if params.get("train_subset") is not None:
        # The split is already a seeded shuffle, so its head is a random subset.
        train = Split(
            train.inputs[: params["train_subset"]], train.targets[: params["train_subset"]]
        )
    augment = params.get("augment", "none")
    return DatasetSplits(
        train=train,
        val=val,
        test=test,
        num_classes=num_classes,
        normalization=channel_normalization(train.inputs, scale),
        augmentation=Augmentation(
            crop_padding=params["crop_padding"] if "crop" in augment else 0,
            flip="flip" in augment,
        ),
    )
