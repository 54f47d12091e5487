"""What the one training loop hands to strategy code: batches, losses and training hooks.

A strategy changes training through these small typed pieces and never writes a loop of its own:

- ``loss_fn(logits, batch) -> (loss, parts)``: what to minimise;
- ``TrainingHooks``: a per-batch transform (mixup, cutmix: inputs and soft targets change),
  a hook after the backward pass (gradient clipping), a hook at the end of each epoch (gradual
  unfreezing);
- the optimizer and scheduler it passes to the loop (any ``torch.optim`` ones).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class Batch:
    """One training batch, as the model sees it.

    :param inputs: normalised (and augmented) inputs.
    :param targets: class indices (``int64``, shape ``(B,)``), or after a batch transform
        class probabilities (floating point, shape ``(B, classes)``): soft targets.
    :param indices: positions in the training split, so a strategy can look up per-example data
        such as cached teacher outputs.
    :param labels: the true class indices of the examples, whatever ``targets`` holds; train
        accuracy is measured against these.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    indices: torch.Tensor
    labels: torch.Tensor


LossFn = Callable[["torch.Tensor", Batch], tuple["torch.Tensor", dict[str, "torch.Tensor"]]]
"""``loss_fn(logits, batch) -> (loss, parts)``: the loss to minimise and named parts of it
(each averaged over the batch), which the loop reports per epoch as ``train_<name>``. The
default, cross-entropy, takes hard and soft targets alike.
"""

BatchTransform = Callable[[Batch, "torch.Generator"], Batch]
"""``transform(batch, generator) -> batch``: change a training batch before the forward pass;
draw randomness from ``generator`` (seeded per cell) so that runs repeat exactly.
"""

AfterBackward = Callable[["nn.Module", int], None]
"""``after_backward(model, step)``: runs after each backward pass, before the optimizer step
(e.g. ``torch.nn.utils.clip_grad_norm_``). ``step`` counts optimizer steps from 1.
"""

EpochCallback = Callable[[int, Mapping[str, float]], None]
"""``on_epoch(epoch, metrics)``: runs after each epoch's validation, before the next epoch."""


@dataclass(frozen=True)
class TrainingHooks:
    """Optional changes to the one training loop; each ``None`` leaves it as it is.

    :param batch_transform: changes each training batch (inputs and/or targets).
    :param after_backward: runs between the backward pass and the optimizer step.
    :param on_epoch: runs after each epoch (the run context still reports the epoch).
    :param accumulate: take an optimizer step every this many batches, their gradients summed
        (each batch's loss is divided by it), to train with a larger effective batch.
    """

    batch_transform: BatchTransform | None = None
    after_backward: AfterBackward | None = None
    on_epoch: EpochCallback | None = None
    accumulate: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.accumulate, bool) or not isinstance(self.accumulate, int):
            raise TypeError(f"accumulate: expected a whole number >= 1, got {self.accumulate!r}")
        if self.accumulate < 1:
            raise ValueError(f"accumulate: expected a whole number >= 1, got {self.accumulate}")
