"""What every cell run in one process shares: the plugins, how cells run here, the results
directory, the datasets loaded so far, the progress display; and what the matrix asks of cells
beyond themselves (artifacts for their consumers, probes)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dlbench.bench.results.store import ResultStore
from dlbench.bench.run.progress import Progress
from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import Component
from dlbench.registry.data import DatasetSplits


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


@dataclass(frozen=True)
class RunOptions:
    """How ``bench run`` was asked to run a matrix.

    :param force: rerun cells already stored.
    :param keep_stale: reuse stored results whose code has changed since (reports mark them).
    :param executor: the executor's name, overriding the matrix's.
    :param executor_options: options for the executor, each with where it was given (``--jobs``,
        ``--executor-opt``), over the matrix's ``executor:`` options.
    :param device: the device policy, resolved where each cell runs.
    :param allow_slow: run cells asking for options this device runs slowly (bf16 without
        native support).
    :param retry_failed: run again the failed runs of decided comparisons (kept otherwise:
        retrying failures until they pass would bias a decision; a verdict that changes is
        marked revised).
    :param tensorboard: write each cell's curves as TensorBoard event files while it trains,
        under ``RESULTS/tb`` (live curves).
    :param mlflow: log each cell to an MLflow tracking store while it trains (``""``: MLflow's
        default store, else its URI); ``None``: off.
    :param command: the command line, for the records' environment.
    :param threads_given: whether the settings' threads were chosen by the user (an executor
        that shares the machine between cells keeps them; otherwise it chooses).
    """

    force: bool = False
    keep_stale: bool = False
    executor: str | None = None
    executor_options: Mapping[str, tuple[Any, str]] = field(default_factory=dict)
    device: str = "auto"
    allow_slow: bool = False
    retry_failed: bool = False
    tensorboard: bool = False
    mlflow: str | None = None
    command: str = ""
    threads_given: bool = False

    @classmethod
    def given(cls, options: Iterable[tuple[str, Any, str]], **settings: Any) -> RunOptions:
        """The run's options, built in one place for the command line and the Python API:
        ``options`` are (key, value, where it was given) for the executor, later ones over
        earlier ones (``--jobs`` over ``--executor-opt jobs=...``)."""
        return cls(
            executor_options={key: (value, where) for key, value, where in options}, **settings
        )


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


@dataclass(frozen=True)
class CellPlan:
    """What a matrix asks of its cells beyond their configuration.

    :param artifacts: cell id -> kinds of artifact other cells need from it.
    :param probes: cell id -> the probe components it runs with.
    """

    artifacts: Mapping[str, frozenset[str]] = field(default_factory=dict)
    probes: Mapping[str, tuple[Component, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Services:
    """What every cell run in one process shares, handed to the cell runner and each cell's
    context."""

    catalog: Catalog
    settings: RunSettings
    store: ResultStore
    progress: Progress
    plan: CellPlan = field(default_factory=CellPlan)
    datasets: DatasetCache = field(default_factory=DatasetCache)
