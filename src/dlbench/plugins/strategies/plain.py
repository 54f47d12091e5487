"""Plain supervised training with cross-entropy on hard labels."""

from __future__ import annotations

import dlbench


def run_plain(cell: dlbench.Cell, context: dlbench.RunContext) -> dlbench.TrainingResult:
    """Train the cell's model on its dataset with the cell's optimizer and schedule.

    The model keeps the weights of its best validation epoch; those are its checkpoint.
    """
    splits = context.load_dataset()
    model = context.build_model(splits)
    return context.fit(model, splits, context.optimizer(model.parameters()))


@dlbench.hookimpl
def dlbench_register_strategies(register: dlbench.Register[dlbench.StrategySpec]) -> None:
    """Register ``plain``."""
    register(
        dlbench.StrategySpec(
            name="plain",
            run=run_plain,
            description="supervised training with cross-entropy on hard labels",
            params=dlbench.TRAINING_PARAMS,
        )
    )
