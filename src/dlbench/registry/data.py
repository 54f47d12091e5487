"""In-memory dataset records that dataset plugins return and the training engine consumes."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Split:
    """One split held as two tensors.

    :param inputs: ``(N, *input_shape)``; ``uint8`` where the source data is 8-bit, so it stays
        small on the device and is normalised per batch.
    :param targets: ``(N,)`` class indices, ``int64``.
    """

    inputs: torch.Tensor
    targets: torch.Tensor

    def __post_init__(self) -> None:
        if self.inputs.shape[0] != self.targets.shape[0]:
            raise ValueError(
                f"split has {self.inputs.shape[0]} inputs but {self.targets.shape[0]} targets"
            )

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def to(self, device: torch.device) -> Split:
        """This split with both tensors on ``device``."""
        return Split(self.inputs.to(device), self.targets.to(device))


@dataclass(frozen=True)
class Normalization:
    """How raw inputs become model inputs: ``(x / scale - mean) / std``, per channel.

    A channel is the first axis of an input of rank 2 or more (an image's colour), or one
    feature of a feature vector (an input of rank 1, such as a row of a table); one value
    shared by every channel is accepted too.

    :param scale: the raw value that maps to 1.0 (255 for 8-bit images, 16 for sklearn digits).
    :param mean: per-channel mean after scaling.
    :param std: per-channel standard deviation after scaling.
    """

    scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def problem(self, input_shape: tuple[int, ...]) -> str | None:
        """Why these statistics do not fit inputs of ``input_shape``, or ``None``."""
        channels = input_shape[0] if input_shape else 1
        per = "feature" if len(input_shape) == 1 else "channel (the first axis of an input)"
        if len(self.mean) != len(self.std) or len(self.mean) not in (1, channels):
            return (
                f"normalization has {len(self.mean)} mean(s) and {len(self.std)} std(s) for "
                f"inputs of shape {input_shape}; expected 1 (shared) or {channels} (one per "
                f"{per}), as dlbench.channel_normalization computes them"
            )
        return None


@dataclass(frozen=True)
class Augmentation:
    """Random changes applied to each training batch on the device, before normalisation.

    :param crop_padding: pad each side by this many pixels (zeros) and crop back at a random
        offset; 0 for no cropping.
    :param flip: flip each image horizontally with probability 1/2.
    """

    crop_padding: int = 0
    flip: bool = False

    @property
    def active(self) -> bool:
        """Whether this changes anything."""
        return self.crop_padding > 0 or self.flip


@dataclass(frozen=True)
class DatasetSplits:
    """A dataset ready for training: train, validation and (where one exists) test splits.

    :param num_classes: number of target classes.
    :param normalization: applied per batch on the training device.
    :param augmentation: applied to training batches only.
    """

    train: Split
    val: Split
    test: Split | None
    num_classes: int
    normalization: Normalization
    augmentation: Augmentation = Augmentation()

    def __post_init__(self) -> None:
        problem = self.normalization.problem(self.input_shape)
        if problem is not None:
            raise ValueError(problem)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input, without the batch dimension."""
        return tuple(self.train.inputs.shape[1:])

    def to(self, device: torch.device) -> DatasetSplits:
        """These splits with every tensor on ``device``."""
        return DatasetSplits(
            train=self.train.to(device),
            val=self.val.to(device),
            test=self.test.to(device) if self.test is not None else None,
            num_classes=self.num_classes,
            normalization=self.normalization,
            augmentation=self.augmentation,
        )
