"""The default executor: cells run in this process, one after another."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from dlbench import Cell, CellFunction, CellRecord, ExecutorSpec, Register, hookimpl


class LocalExecutor:
    """Runs each cell in order in the calling process."""

    def __init__(self, **options: Any) -> None:
        del options  # nothing to configure

    def run(self, cells: Sequence[Cell], run_cell: CellFunction) -> Iterator[CellRecord]:
        """Yield each cell's record as soon as it finishes."""
        for cell in cells:
            yield run_cell(cell)


@hookimpl
def dlbench_register_executors(register: Register[ExecutorSpec]) -> None:
    """Register ``local``."""
    register(ExecutorSpec("local", LocalExecutor, "run cells in this process, one at a time"))
