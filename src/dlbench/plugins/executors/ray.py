"""The ``ray`` executor: cells as Ray tasks on a cluster (optional extra ``dlbench[ray]``).

Each cell is a task with its CPU and GPU needs, so GPU cells land on GPU nodes and Ray sets
their visible devices. A consumer's task takes its producers' tasks as arguments, so Ray runs
producers first and independent cells at once. Workers write records and artifacts into the
results directory, which must be a path every node shares. A task whose worker dies is retried
(``max_retries``); a failure inside a cell is a failed record, not retried.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from dlbench import (
    Cell,
    CellFunction,
    CellRecord,
    DlbenchError,
    ExecutorSpec,
    Param,
    Register,
    hookimpl,
    install_hint,
)

#: Retries of a cell whose worker process or node died.
MAX_RETRIES = 2


class RayExecutor:
    """Sends cells to a Ray cluster and yields records as tasks finish.

    :param address: the cluster: ``local`` starts one here, ``auto`` finds a running one, or
        ``HOST:PORT``; ``None`` takes ``$RAY_ADDRESS``, else ``local``.
    :param max_retries: runs of a cell whose worker process or node died, before it fails.
    """

    def __init__(self, address: str | None = None, max_retries: int = MAX_RETRIES) -> None:
        self.max_retries = max_retries
        try:
            import ray
        except ImportError:
            raise DlbenchError(f"the ray executor needs Ray: {install_hint('ray')}") from None
        self._ray = ray
        self._address = address or os.environ.get("RAY_ADDRESS", "local")

    def run(self, cells: Sequence[Cell], run_cell: CellFunction) -> Iterator[CellRecord]:
        """Submit every cell, producers' tasks as arguments of consumers', and yield records."""
        ray = self._ray
        if not ray.is_initialized():
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            ray.init(address=self._address, include_dashboard=False, log_to_driver=False)
        # A cell asks for a GPU when it must have one, or may use one and the cluster has some.
        has_gpus = ray.cluster_resources().get("GPU", 0) > 0
        gpus = 1 if run_cell.device == "cuda" or (run_cell.device == "auto" and has_gpus) else 0
        task = ray.remote(num_cpus=run_cell.threads, num_gpus=gpus, max_retries=self.max_retries)(
            _run_after
        )
        refs: dict[str, Any] = {}
        for cell in cells:
            producers = [refs[p] for p in cell.producers() if p in refs]
            refs[cell.id] = task.remote(run_cell, cell.to_json(), *producers)
        pending = list(refs.values())
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield CellRecord.from_json(ray.get(done[0]))


def _run_after(run_cell: CellFunction, cell: dict[str, Any], *producers: Any) -> dict[str, Any]:
    """Run ``cell``; ``producers`` are the records of the cells it needs (Ray waits for them)."""
    del producers
    return run_cell(Cell.from_json(cell)).to_json()


@hookimpl
def dlbench_register_executors(register: Register[ExecutorSpec]) -> None:
    """Register ``ray``."""
    register(
        ExecutorSpec(
            name="ray",
            create=RayExecutor,
            description="cells as tasks on a Ray cluster (the 'ray' extra)",
            params={
                "address": Param(
                    None,
                    str,
                    "the cluster: local (start one here), auto (a running one) or HOST:PORT; "
                    "default $RAY_ADDRESS, else local",
                    nullable=True,
                ),
                "max_retries": Param(
                    MAX_RETRIES, int, "reruns of a cell whose worker died", minimum=0, maximum=100
                ),
            },
        )
    )
