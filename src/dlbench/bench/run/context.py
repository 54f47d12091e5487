"""The services a strategy gets while its cell runs: the run context's implementation."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import nn

from dlbench.bench.results import artifacts as stored
from dlbench.bench.run.checkpoints import read_checkpoint, write_checkpoint
from dlbench.bench.run.services import Services
from dlbench.engine.batches import BatchNormalizer
from dlbench.engine.loop import FitConfig, fit
from dlbench.engine.losses import cross_entropy
from dlbench.engine.model_card import model_card
from dlbench.engine.model_check import output_problem
from dlbench.engine.optim import make_optimizer, make_scheduler
from dlbench.engine.stages import stage
from dlbench.registry.cell import Cell, Component
from dlbench.registry.data import DatasetSplits
from dlbench.registry.errors import DlbenchError
from dlbench.registry.params import CELL_REFERENCE
from dlbench.registry.probes import Probe
from dlbench.registry.records import TrainingResult
from dlbench.registry.specs import DatasetRequest
from dlbench.registry.training import LossFn, TrainingHooks

CHECKPOINT = "checkpoint"
CACHE_FORMAT = "dlbench-cache/1"
#: What ``CellContext.fit`` and ``CellContext.optimizer`` read from a strategy's
#: parameters; a strategy that trains through them must declare these (``TRAINING_PARAMS``).
FIT_KEYS = ("epochs", "batch_size", "eval_batch_size")
OPTIMIZER_KEYS = ("optimizer", "lr", "weight_decay", "momentum", "nesterov")


class CellContext:
    """A ``RunContext`` for one cell.

    :param services: what every cell of this process shares.
    :param on_epoch: called after every epoch (progress display, lifecycle hooks).
    """

    def __init__(
        self,
        cell: Cell,
        services: Services,
        on_epoch: Callable[[int, Mapping[str, float]], None],
    ) -> None:
        self.cell = cell
        self._catalog = services.catalog
        self._settings = services.settings
        self._datasets = services.datasets
        self._store = services.store
        self._on_epoch = on_epoch
        self._wanted = services.plan.artifacts.get(cell.id, frozenset())
        self._probes = {
            p.name: self._catalog.probes.get(p.name).create(**p.params)
            for p in services.plan.probes.get(cell.id, ())
        }
        self._splits: DatasetSplits | None = None
        self.data_seconds = 0.0
        self.artifacts: dict[str, str] = {}
        self.model_card: dict[str, Any] = {}

    @property
    def device(self) -> torch.device:
        """The device to train on."""
        return self._settings.device

    def load_dataset(self) -> DatasetSplits:
        """The cell's dataset on the device (cached across cells)."""
        started = time.perf_counter()
        component = self.cell.dataset
        spec = self._catalog.datasets.get(component.name)
        params = dict(component.params)
        if self.cell.split_seed is not None:
            params["split_seed"] = self.cell.split_seed  # the run redraws its split
        request = DatasetRequest(
            params=params,
            data_root=self._settings.data_root,
            download=self._settings.download,
        )
        key = json.dumps([component.name, params, str(request.data_root)], sort_keys=True)

        def load() -> DatasetSplits:
            with stage("dataset load"):
                return spec.load(request).to(self.device)

        splits = self._datasets.get(key, load)
        self.data_seconds += time.perf_counter() - started
        self._splits = splits
        return splits

    def build_model(self, splits: DatasetSplits) -> nn.Module:
        """The cell's model for ``splits``, on the device, its output checked on one batch."""
        model = self._build(self.cell.model, splits.input_shape, splits.num_classes)
        normalize = BatchNormalizer(splits.normalization, len(splits.input_shape), self.device)
        with stage("forward"):
            problem = output_problem(
                model,
                normalize(splits.val.inputs[:2]),
                splits.num_classes,
                f"model {self.cell.model.name!r} on dataset {self.cell.dataset.name!r}",
            )
        if problem is not None:
            raise DlbenchError(problem)
        return model

    def _build(
        self, component: Component, input_shape: tuple[int, ...], num_classes: int
    ) -> nn.Module:
        spec = self._catalog.models.get(component.name)
        with stage("model build"):
            return spec.build(input_shape, num_classes, **component.params).to(self.device)

    def _strategy_params(self, keys: Iterable[str], purpose: str) -> Mapping[str, Any]:
        params = self.cell.strategy.params
        missing = [key for key in keys if key not in params]
        if missing:
            raise DlbenchError(
                f"strategy {self.cell.strategy.name!r} calls {purpose} but does not declare "
                f"{', '.join(missing)}; include dlbench.TRAINING_PARAMS in its params"
            )
        return params

    def optimizer(
        self, parameters: Iterable[Any], params: Mapping[str, Any] | None = None
    ) -> torch.optim.Optimizer:
        """The optimizer the cell's (or ``params``') training parameters name, fused."""
        if params is None:
            params = self._strategy_params(OPTIMIZER_KEYS, "context.optimizer()")
        return make_optimizer(parameters, params, self.device)

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
        """The one training loop with the cell's settings, probes and progress; then the trained
        model (best validation weights) is handed over as the cell's checkpoint."""
        params = self._strategy_params(FIT_KEYS, "context.fit()")
        if isinstance(scheduler, str):
            scheduler = make_scheduler(optimizer, params) if "schedule" in params else None
        result = fit(
            model,
            splits,
            optimizer,
            FitConfig.from_params(params, self.cell.order_seed),
            scheduler=scheduler,
            loss_fn=loss_fn or cross_entropy,
            hooks=hooks,
            on_epoch=self.epoch_end,
            probes=self.probes(),
        )
        self.trained_model(model)
        return result

    def epoch_end(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Forward a finished epoch to the progress display and the lifecycle hook."""
        self._on_epoch(epoch, metrics)

    def probes(self) -> list[Probe]:
        """The probes this cell runs with."""
        return list(self._probes.values())

    def probe_results(self) -> dict[str, Any]:
        """What each probe observed, by probe name."""
        return {name: probe.result() for name, probe in self._probes.items()}

    def trained_model(self, model: nn.Module) -> None:
        """Record the model's card; store its weights if another cell needs them."""
        self.model_card = model_card(model)
        if CHECKPOINT not in self._wanted:
            return
        splits = self._splits or self.load_dataset()
        self.artifacts[CHECKPOINT] = stored.put_artifact(
            self._store,
            lambda path: write_checkpoint(
                path, self.cell, model, splits.input_shape, splits.num_classes
            ),
        )

    def cached(self, key: Mapping[str, Any], compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """A tensor stored under ``key`` in the results directory, computed once by ``compute``.

        Its content hash is checked before every use; it is loaded with ``weights_only=True``
        and moved to the device.
        """
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
        path = stored.cached(
            self._store,
            digest,
            lambda target: torch.save({"format": CACHE_FORMAT, "tensor": compute().cpu()}, target),
        )
        try:
            data = torch.load(path, map_location=self.device, weights_only=True)
        except (RuntimeError, EOFError, OSError, ValueError) as exc:
            raise DlbenchError(
                f"{path}: unreadable cache file ({exc}); delete it to recompute"
            ) from None
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
            raise DlbenchError(f"{path}: not a dlbench cache file; delete it to recompute")
        tensor: torch.Tensor = data["tensor"]
        return tensor

    def checkpoint_name(self, reference: str) -> str:
        """The stored checkpoint file of the referenced cell (named by its content hash)."""
        record = self._store.get(_cell_id(reference))
        if record is None or CHECKPOINT not in record.artifacts:
            raise DlbenchError(f"{reference} stored no checkpoint in {self._store.root}")
        return record.artifacts[CHECKPOINT]

    def producer(self, reference: str) -> Cell:
        """The cell that ``reference`` names, from its stored record."""
        record = self._store.get(_cell_id(reference))
        if record is None or record.status != "ok":
            raise DlbenchError(f"{reference} has no finished record in {self._store.root}")
        return Cell.from_json(record.cell)

    def load_model(self, reference: str) -> nn.Module:
        """The referenced cell's trained model, its checkpoint verified against its content hash
        and loaded with ``weights_only=True``."""
        name = self.checkpoint_name(reference)
        data = read_checkpoint(stored.verified_artifact(self._store, name), self.device)
        producer = Cell.from_json(data["cell"])
        model = self._build(producer.model, tuple(data["input_shape"]), data["num_classes"])
        try:
            model.load_state_dict(data["state_dict"])
        except RuntimeError as exc:
            raise DlbenchError(
                f"{name}: weights do not fit model "
                f"{producer.model.describe()}: {str(exc).splitlines()[0]}"
            ) from None
        return model.eval()


def _cell_id(reference: str) -> str:
    if not reference.startswith(CELL_REFERENCE):
        raise DlbenchError(f"{reference!r} is not a reference to a cell (cell:<id>)")
    return reference.removeprefix(CELL_REFERENCE)
