"""The services a strategy gets while its cell runs (:class:`registry.run.RunContext`)."""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from registry.catalog import Catalog
from registry.cell import Cell
from registry.data import DatasetSplits
from registry.specs import DatasetRequest


@dataclass(frozen=True)
class RunSettings:
    """How cells run in this process.

    :param device: the training device.
    :param data_root: where datasets live or are downloaded to.
    :param download: whether datasets may be downloaded.
    :param threads: torch intra-op threads in use.
    """

    device: torch.device
    data_root: Path
    download: bool
    threads: int


class DatasetCache:
    """Datasets already loaded onto the device, so cells of one dataset load it once."""

    def __init__(self, capacity: int = 2) -> None:
        self._capacity = capacity
        self._loaded: OrderedDict[str, DatasetSplits] = OrderedDict()

    def get(self, key: str, load: Callable[[], DatasetSplits]) -> DatasetSplits:
        """The cached splits for ``key``, loading (and evicting the oldest) when absent."""
        if key in self._loaded:
            self._loaded.move_to_end(key)
            return self._loaded[key]
        splits = load()
        self._loaded[key] = splits
        while len(self._loaded) > self._capacity:
            self._loaded.popitem(last=False)
        return splits


class CellContext:
    """A :class:`~registry.run.RunContext` for one cell."""

    def __init__(
        self,
        cell: Cell,
        catalog: Catalog,
        settings: RunSettings,
        datasets: DatasetCache,
        on_epoch: Callable[[int, Mapping[str, float]], None],
    ) -> None:
        self.cell = cell
        self._catalog = catalog
        self._settings = settings
        self._datasets = datasets
        self._on_epoch = on_epoch
        self.data_seconds = 0.0

    @property
    def device(self) -> torch.device:
        """The device to train on."""
        return self._settings.device

    def load_dataset(self) -> DatasetSplits:
        """The cell's dataset on the device (cached across cells)."""
        started = time.perf_counter()
        component = self.cell.dataset
        spec = self._catalog.datasets.get(component.name)
        request = DatasetRequest(
            params=component.params,
            data_root=self._settings.data_root,
            download=self._settings.download,
        )
        key = json.dumps([component.name, component.params, str(request.data_root)], sort_keys=True)
        splits = self._datasets.get(key, lambda: spec.load(request).to(self.device))
        self.data_seconds += time.perf_counter() - started
        return splits

    def build_model(self, splits: DatasetSplits) -> nn.Module:
        """The cell's model for ``splits``, on the device."""
        component = self.cell.model
        spec = self._catalog.models.get(component.name)
        model = spec.build(splits.input_shape, splits.num_classes, **component.params)
        return model.to(self.device)

    def epoch_end(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Forward a finished epoch to the progress display and the lifecycle hook."""
        self._on_epoch(epoch, metrics)
