"""Plain supervised training with cross-entropy on hard labels."""

from __future__ import annotations

from bench.engine.cell_training import fit_cell
from bench.engine.optim import TRAINING_PARAMS, make_optimizer
from registry import Cell, RunContext, StrategySpec, TrainingResult, hookimpl


def run_plain(cell: Cell, context: RunContext) -> TrainingResult:
    """Train the cell's model on its dataset with the cell's optimizer and schedule.

    The model keeps the weights of its best validation epoch; those are its checkpoint.
    """
    splits = context.load_dataset()
    model = context.build_model(splits)
    optimizer = make_optimizer(model.parameters(), cell.strategy.params, context.device)
    return fit_cell(cell, context, model, splits, optimizer)


@hookimpl
def dlbench_register_strategies(register):  # type: ignore[no-untyped-def]
    """Register ``plain``."""
    register(
        StrategySpec(
            name="plain",
            run=run_plain,
            description="supervised training with cross-entropy on hard labels",
            params=TRAINING_PARAMS,
        )
    )
