"""Convolutional networks, plain and residual, built from the same stages of 3x3 blocks.

A network is a stem (3x3 convolution), ``len(channels)`` stages of ``blocks`` blocks each (every
stage after the first halves the resolution in its first block), global average pooling and a
linear head. A plain block is two 3x3 convolutions with batch norm; a residual block adds the
skip connection of ResNet's BasicBlock. So plain and residual networks of the same configuration
differ only in their skips. The lab's ResNet-18-like teacher is ``residual_cnn`` with ``blocks: 2``
and ``channels: [64, 128, 256, 512]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dlbench import ModelSpec, Param, Register, hookimpl


class ConvBlock(nn.Module):
    """Two 3x3 convolutions with batch norm; with ``residual`` a ResNet BasicBlock.

    The shortcut is the identity when shapes match; otherwise a 1x1 convolution with batch norm
    (``projection``) or a strided identity padded with zero channels (``zero_pad``).
    """

    #: Counted as one block by the model card.
    dlbench_block = True

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, residual: bool, shortcut: str
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.residual = residual
        self.stride = stride
        self.extra_channels = out_channels - in_channels
        self.projection: nn.Module | None = None
        reshapes = stride != 1 or in_channels != out_channels
        if residual and reshapes and shortcut == "projection":
            self.projection = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """The block's output."""
        out = F.relu(self.bn1(self.conv1(inputs)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + self._shortcut(inputs)
        return F.relu(out)

    def _shortcut(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.projection is not None:
            projected: torch.Tensor = self.projection(inputs)
            return projected
        if self.stride != 1:
            inputs = inputs[:, :, :: self.stride, :: self.stride]
        if self.extra_channels > 0:
            inputs = F.pad(inputs, (0, 0, 0, 0, 0, self.extra_channels))
        return inputs


class CNN(nn.Module):
    """Stem, stages of ``ConvBlock``, global average pooling, linear head."""

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_classes: int,
        blocks: int,
        channels: tuple[int, ...],
        residual: bool,
        shortcut: str = "projection",
    ) -> None:
        super().__init__()
        in_channels = input_shape[0]
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels[0], 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(),
        )
        layers: list[nn.Module] = []
        previous = channels[0]
        for stage, width in enumerate(channels):
            for index in range(blocks):
                stride = 2 if stage > 0 and index == 0 else 1
                layers.append(ConvBlock(previous, width, stride, residual, shortcut))
                previous = width
        self.stages = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels[-1], num_classes)
        )

    def features(self, inputs: torch.Tensor) -> torch.Tensor:
        """Pooled features before the head, ``(B, channels[-1])``."""
        pooled: torch.Tensor = self.head[:2](self.stages(self.stem(inputs)))
        return pooled

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Class logits for a batch."""
        logits: torch.Tensor = self.head(self.stages(self.stem(inputs)))
        return logits


CNN_PARAMS = {
    "blocks": Param(1, int, "blocks per stage", minimum=1, maximum=100),
    "channels": Param(
        (64, 128, 256, 512),
        int,
        "channels of each stage",
        minimum=1,
        maximum=16384,
        sequence=True,
    ),
}


def cnn_parameters(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    blocks: int,
    channels: tuple[int, ...],
    **_: object,
) -> int:
    """Convolution and head weights of a CNN (batch norm and shortcuts left out), unbuilt."""
    count = input_shape[0] * channels[0] * 9 if input_shape else 0
    previous = channels[0]
    for width in channels:
        count += blocks * (previous + width) * width * 9
        previous = width
    return count + (channels[-1] + 1) * num_classes


RESIDUAL_PARAMS = {
    **CNN_PARAMS,
    "shortcut": Param(
        "projection", str, "shortcut where shapes change", choices=("projection", "zero_pad")
    ),
}


def build_cnn(
    input_shape: tuple[int, ...], num_classes: int, *, blocks: int, channels: tuple[int, ...]
) -> CNN:
    """A plain CNN."""
    return CNN(input_shape, num_classes, blocks, tuple(channels), residual=False)


def build_residual_cnn(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    blocks: int,
    channels: tuple[int, ...],
    shortcut: str,
) -> CNN:
    """A residual CNN (ResNet BasicBlocks)."""
    return CNN(input_shape, num_classes, blocks, tuple(channels), residual=True, shortcut=shortcut)


@hookimpl
def dlbench_register_models(register: Register[ModelSpec]) -> None:
    """Register ``cnn`` and ``residual_cnn``."""
    images = frozenset({3})
    register(
        ModelSpec(
            name="cnn",
            build=build_cnn,
            description="plain CNN of 3x3 conv blocks",
            params=CNN_PARAMS,
            input_ranks=images,
            parameter_count=cnn_parameters,
        )
    )
    register(
        ModelSpec(
            name="residual_cnn",
            build=build_residual_cnn,
            description="residual CNN of ResNet BasicBlocks",
            params=RESIDUAL_PARAMS,
            input_ranks=images,
            parameter_count=cnn_parameters,
        )
    )
