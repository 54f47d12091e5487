"""The picklable function an executor calls to run one cell, here or in another process."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dlbench.bench.results.store import ResultStore
from dlbench.bench.run.cell_runner import CellRunner
from dlbench.bench.run.footprint import DATA_ALLOWANCE, model_parameters, process_memory
from dlbench.bench.run.planners import configuration
from dlbench.bench.run.progress import SilentProgress
from dlbench.bench.run.services import CellPlan, RunSettings, Services
from dlbench.engine.device import resolve_device, set_threads
from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import Cell, Component
from dlbench.registry.execution import Footprint
from dlbench.registry.records import CellRecord


@dataclass
class CellJob:
    """Runs one cell of a matrix wherever it is called; implements
    ``CellFunction``.

    Plain data, so it pickles: an executor may call it here or send it to another process or
    machine, where it builds the plugin catalog, resolves the device, and writes the record
    (and any artifact) into the results directory, which must be reachable (shared) there.

    :param device: the device policy (``auto``, ``cpu``, ``cuda``), resolved where the cell runs.
    :param threads: torch threads per cell.
    :param threads_given: whether the user chose ``threads`` (executors keep them then).
    :param data_root: dataset folder, as seen from where the cell runs.
    :param store_root: the results directory.
    :param artifacts: cell id -> artifact kinds other cells need from it.
    :param probes: cell id -> probe components (``Component.to_json()``).
    :param environment: the driver's environment, completed where the cell runs.
    :param workers: processes running cells at once on one machine (see ``for_workers``).
    :param choice: why the executor chose them (recorded with every result).
    :param plugins: the plugins of the process that started the run: a cell run elsewhere fails
        with the reason when one of them cannot be loaded there.
    :param in_process_plugins: those of them handed to that process as objects, not installed.
    :param durations: configuration (a cell without its seed) -> the wall seconds a stored run
        of it took, as the runner last read the store (before each wave).
    """

    device: str
    threads: int
    data_root: str
    download: bool
    store_root: str
    artifacts: dict[str, list[str]]
    probes: dict[str, list[dict[str, Any]]]
    environment: dict[str, Any]
    threads_given: bool = False
    workers: int = 1
    choice: str = ""
    plugins: tuple[str, ...] = ()
    in_process_plugins: tuple[str, ...] = ()
    durations: dict[str, float] = field(default_factory=dict)
    _runner: CellRunner | None = field(default=None, repr=False, compare=False)
    _own_catalog: Catalog | None = field(default=None, repr=False, compare=False)
    _parameters: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    _notes: Callable[[str], None] | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        # The runner holds this process's catalog and progress display; elsewhere a new one is
        # built from the plain data.
        return {**self.__dict__, "_runner": None, "_own_catalog": None, "_notes": None}

    def attach(self, runner: CellRunner, notes: Callable[[str], None]) -> CellJob:
        """Use ``runner`` (this process's catalog and progress) when called here, and show
        executors' notes with ``notes`` (copies for workers keep it)."""
        self._runner = runner
        self._notes = notes
        return self

    def note(self, text: str) -> None:
        """Show ``text`` with the run's progress (on standard error where none is attached)."""
        if self._notes is not None:
            self._notes(text)
        else:
            print(f"bench: {text}", file=sys.stderr)

    def for_workers(self, workers: int, threads: int, why: str = "") -> CellJob:
        """A copy for ``workers`` processes running cells at once, each cell with ``threads``
        threads (it builds its own runner where it is called); with one worker, this job, its
        cells run here with ``threads``."""
        if workers == 1 and self._runner is not None:
            self.threads, self.choice = set_threads(threads), why
            self._runner.note_environment(threads=self.threads, jobs=1, jobs_choice=why)
            return self
        return replace(self, workers=workers, threads=threads, choice=why, _runner=None)

    def footprint(self, cell: Cell) -> Footprint:
        """What running ``cell`` takes: this process's memory (a worker imports what it did),
        the model's training state (weights, gradients, two optimizer moments: 16 bytes a
        parameter) and an allowance for the dataset."""
        key = json.dumps([cell.model.to_json(), cell.dataset.name], sort_keys=True)
        if key not in self._parameters:
            self._parameters[key] = model_parameters(cell, self._catalog())
        parameters = self._parameters[key]
        memory = process_memory() + 16 * parameters + DATA_ALLOWANCE
        return Footprint(parameters, memory, self.durations.get(configuration(cell)))

    def _catalog(self) -> Catalog:
        if self._runner is not None:
            return self._runner.catalog
        if self._own_catalog is None:
            from dlbench.bench.host import load_catalog

            self._own_catalog = load_catalog()
        return self._own_catalog

    def store(self, record: CellRecord) -> None:
        """Store a record made outside a cell's run (a cell whose worker process died)."""
        ResultStore(Path(self.store_root)).put(record)

    def __call__(self, cell: Cell) -> CellRecord:
        """Run ``cell``, store its record and return it."""
        if self._runner is None:
            self._runner = self._remote_runner()
        missing = sorted(set(self.plugins) - set(self._runner.catalog.host.plugins))
        if missing:
            record = CellRecord.failure(
                cell,
                f"plugin(s) {', '.join(missing)} of the starting process cannot be loaded where "
                "the cell ran (another process loads installed plugins only): install them "
                "there, or run the cells in the starting process (--jobs 1)",
            )
            self.store(record)
            return record
        return self._runner(cell)

    def _remote_runner(self) -> CellRunner:
        from dlbench.bench.host import load_catalog

        settings = RunSettings(
            device=resolve_device(self.device),
            data_root=Path(self.data_root),
            download=self.download,
            threads=set_threads(self.threads),
        )
        plan = CellPlan(
            {k: frozenset(v) for k, v in self.artifacts.items()},
            {k: tuple(Component(**p) for p in v) for k, v in self.probes.items()},
        )
        services = Services(
            load_catalog(), settings, ResultStore(Path(self.store_root)), SilentProgress(), plan
        )
        environment = {
            **self.environment,
            "device": str(settings.device),
            "threads": settings.threads,
            "jobs": self.workers,
            "jobs_choice": self.choice,
            "host": platform.node(),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        }
        return CellRunner(services, environment)


def stored_durations(records: Iterable[CellRecord]) -> dict[str, float]:
    """Configuration -> the wall seconds of its most recent finished run among ``records``."""
    found: dict[str, float] = {}
    for record in records:
        seconds = record.timings.get("total")
        if record.status == "ok" and isinstance(seconds, (int, float)) and seconds > 0:
            found[configuration(Cell.from_json(record.cell))] = float(seconds)
    return found
