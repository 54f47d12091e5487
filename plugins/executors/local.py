"""The default executor: cells run in this process, one after another."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from registry import Cell, CellRecord, ExecutorSpec, hookimpl


class LocalExecutor:
    """Runs each cell in order in the calling process."""

    def run(
        self, cells: Sequence[Cell], execute: Callable[[Cell], CellRecord]
    ) -> Iterator[CellRecord]:
        """Yield each cell's record as soon as it finishes."""
        for cell in cells:
            yield execute(cell)


@hookimpl
def dlbench_register_executors(register):  # type: ignore[no-untyped-def]
    """Register ``local``."""
    register(ExecutorSpec("local", LocalExecutor, "run cells in this process, one at a time"))
