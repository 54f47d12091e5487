"""Losses for strategies: cross-entropy on hard or soft targets, and knowledge distillation."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dlbench.registry.training import Batch


def cross_entropy(
    logits: torch.Tensor, batch: Batch
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Cross-entropy against ``batch.targets``: class indices, or class probabilities (soft
    targets, as a mixup transform makes them). The loop's default ``loss_fn``."""
    return F.cross_entropy(logits, batch.targets), {}


def distillation_loss(
    student_logits: torch.Tensor,
    targets: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float,
    alpha: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Hinton et al.'s distillation loss and its parts ``ce`` (hard labels) and ``kl`` (soft,
    before the T² factor):

        (1 - alpha) * CE(student, targets)
            + alpha * T² * KL(softmax(teacher / T) || softmax(student / T))

    The T² factor keeps the soft term's gradients on the scale of the hard term's as T grows.
    """
    hard = F.cross_entropy(student_logits, targets)
    soft = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=1),
        F.log_softmax(teacher_logits / temperature, dim=1),
        log_target=True,
        reduction="batchmean",
    )
    loss = (1 - alpha) * hard + alpha * temperature**2 * soft
    return loss, {"ce": hard, "kl": soft}
