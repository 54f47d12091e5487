"""Transfer learning pieces: cut a trained model's classifier off and put a new head on it."""

from __future__ import annotations

import torch
from torch import nn

from dlbench.registry.errors import DlbenchError


def detach_head(model: nn.Module) -> tuple[nn.Module, int]:
    """Replace ``model``'s last ``nn.Linear`` (its classifier) with the identity.

    Works for any model whose classifier is its last linear layer (the built-in MLPs and CNNs,
    timm's networks). Returns the model, now a feature extractor, and its number of features.
    """
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = name
    if last is None:
        raise DlbenchError(f"{type(model).__name__} has no linear classifier to replace")
    if last == "":
        raise DlbenchError("the model is a single linear layer; there is no backbone to keep")
    parent_name, _, child = last.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    classifier = getattr(parent, child)
    setattr(parent, child, nn.Identity())
    return model, int(classifier.in_features)


class TransferModel(nn.Module):
    """A backbone (a feature extractor) and a new linear head for the target classes.

    While frozen, the backbone's parameters take no gradient and it stays in eval mode even when
    the model trains, so its batch-norm statistics do not move either.
    """

    def __init__(self, backbone: nn.Module, features: int, num_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(features, num_classes)
        self.frozen = False

    def freeze(self, frozen: bool) -> None:
        """Freeze or unfreeze the backbone."""
        self.frozen = frozen
        for parameter in self.backbone.parameters():
            parameter.requires_grad_(not frozen)
        self.backbone.train(self.training and not frozen)

    def train(self, mode: bool = True) -> TransferModel:
        """Set training mode, keeping a frozen backbone in eval mode."""
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
        return self

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Class logits for a batch."""
        logits: torch.Tensor = self.head(self.backbone(inputs))
        return logits
