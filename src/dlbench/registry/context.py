"""The services the runner gives a strategy while one cell runs (``RunContext``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch
    from torch import nn

    from dlbench.registry.cell import Cell
    from dlbench.registry.data import DatasetSplits
    from dlbench.registry.records import TrainingResult
    from dlbench.registry.training import LossFn, TrainingHooks


class RunContext(Protocol):
    """What a strategy's ``run(cell, context)`` uses to train its cell.

    The shortest strategy is three lines:

        splits = context.load_dataset()
        model = context.build_model(splits)
        return context.fit(model, splits, context.optimizer(model.parameters()))
    """

    @property
    def device(self) -> torch.device:
        """The device to train on."""
        ...

    def load_dataset(self) -> DatasetSplits:
        """The cell's dataset, already on ``device`` (loaded once per process and reused)."""
        ...

    def build_model(self, splits: DatasetSplits) -> nn.Module:
        """The cell's model for ``splits``' input shape and class count, on ``device``.

        Its output on one batch is checked before it is returned: a model whose logits are not
        ``(batch, classes)`` or not finite fails the cell with one line saying so.
        """
        ...

    def optimizer(
        self, parameters: Iterable[Any], params: Mapping[str, Any] | None = None
    ) -> torch.optim.Optimizer:
        """The optimizer the cell's training parameters name (``optimizer``, ``lr``,
        ``weight_decay``, ``momentum``, ``nesterov``), fused where torch offers it.

        :param parameters: model parameters, or parameter groups with their own ``lr``.
        :param params: training parameters to use instead of the cell's strategy parameters.
        """
        ...

    def fit(
        self,
        model: nn.Module,
        splits: DatasetSplits,
        optimizer: torch.optim.Optimizer,
        *,
        loss_fn: LossFn | None = None,
        hooks: TrainingHooks | None = None,
        scheduler: Any = "cell",
    ) -> TrainingResult:
        """Train with the one loop: the cell's epochs, batch sizes, seed, precision and memory
        format; progress, lifecycle hooks and probes included. Leaves ``model`` with its best
        validation weights and hands it over as the cell's checkpoint (``trained_model``).

        :param loss_fn: ``loss_fn(logits, batch) -> (loss, parts)``; default cross-entropy
            (hard or soft targets).
        :param hooks: a batch transform, an after-backward hook, per-epoch actions.
        :param scheduler: ``"cell"`` (default) for the schedule the cell's parameters name,
            ``None`` for none, or any ``torch.optim.lr_scheduler`` stepped once per epoch.
        """
        ...

    def epoch_end(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Report a finished epoch (progress display and lifecycle hooks); ``fit`` does this
        itself, so only strategies that train without it call it."""
        ...

    def trained_model(self, model: nn.Module) -> None:
        """Hand over the trained model: its card (parameters, layers, blocks) goes into the
        record, and its weights are stored as the cell's checkpoint when another cell needs them.
        ``fit`` does this itself.
        """
        ...

    def load_model(self, reference: str) -> nn.Module:
        """The trained model of the cell that ``reference`` (``cell:<id>``) names, in eval mode.

        The checkpoint's content hash is verified and it is loaded with ``weights_only=True``.
        """
        ...

    def producer(self, reference: str) -> Cell:
        """The cell that ``reference`` (``cell:<id>``) names."""
        ...

    def checkpoint_name(self, reference: str) -> str:
        """The referenced cell's stored checkpoint file, named by its content hash."""
        ...

    def cached(self, key: Mapping[str, Any], compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """A tensor computed once per results directory for ``key`` and reused after that.

        ``key`` must name everything the tensor depends on (a checkpoint, the dataset and its
        preprocessing); it is hashed into the cache file's name.
        """
        ...
