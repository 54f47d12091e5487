"""Knowledge distillation: a student learns from hard labels and a trained teacher's soft outputs.

    loss = (1 - alpha) * CE(student, labels)
           + alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))

The T^2 factor keeps the soft term's gradients on the scale of the hard term's as T grows
(Hinton et al., 2015). In ``cached`` mode the teacher's outputs on the (un-augmented) training set
are computed once, stored in the results directory keyed by the teacher's checkpoint and the
dataset, and shared by every student and every rerun. In ``online`` mode the teacher sees the same
(augmented) batch as the student, which keeps their views consistent at the cost of a teacher
forward pass per step.
"""

from __future__ import annotations

import torch

import dlbench
from dlbench import (
    Batch,
    BatchNormalizer,
    Cell,
    Param,
    RunContext,
    StrategySpec,
    TrainingResult,
    distillation_loss,
    predict,
)

DISTILL_PARAMS = {
    **dlbench.TRAINING_PARAMS,
    "teacher": Param(
        None, str, "the teacher: {from: EXPERIMENT}", nullable=True, artifact="checkpoint"
    ),
    "temperature": Param(4.0, float, "softmax temperature T", minimum=0, exclusive_minimum=True),
    "alpha": Param(0.5, float, "weight of the soft (teacher) term", minimum=0, maximum=1),
    "mode": Param("cached", str, "teacher outputs", choices=("cached", "online")),
}


def run_distill(cell: Cell, context: RunContext) -> TrainingResult:
    """Train the cell's model as a student of the referenced teacher."""
    params = cell.strategy.params
    splits = context.load_dataset()
    teacher = context.load_model(params["teacher"])
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    normalize = BatchNormalizer(splits.normalization, len(splits.input_shape), context.device)
    sample = predict(teacher, splits.val.inputs[:2], normalize, 2)
    if sample.shape[1] != splits.num_classes:
        raise dlbench.DlbenchError(
            f"teacher predicts {sample.shape[1]} classes but dataset {cell.dataset.name!r} has "
            f"{splits.num_classes}"
        )
    temperature, alpha = params["temperature"], params["alpha"]

    if params["mode"] == "cached":
        teacher_logits = context.cached(
            {
                "kind": "teacher_outputs",
                "teacher": context.checkpoint_name(params["teacher"]),
                "dataset": cell.dataset.to_json(),
            },
            lambda: predict(teacher, splits.train.inputs, normalize, params["eval_batch_size"]),
        )

        def loss_fn(logits: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, dict]:
            return distillation_loss(
                logits, batch.targets, teacher_logits[batch.indices], temperature, alpha
            )

    else:

        def loss_fn(logits: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, dict]:
            with torch.no_grad():
                outputs = teacher(batch.inputs)
            return distillation_loss(logits, batch.targets, outputs, temperature, alpha)

    student = context.build_model(splits)
    return context.fit(student, splits, context.optimizer(student.parameters()), loss_fn=loss_fn)


@dlbench.hookimpl
def dlbench_register_strategies(register: dlbench.Register[StrategySpec]) -> None:
    """Register ``distill``."""
    register(
        StrategySpec(
            name="distill",
            run=run_distill,
            description="knowledge distillation from a teacher cell (cached or online outputs)",
            params=DISTILL_PARAMS,
            needs=frozenset({"teacher"}),
            metrics=(*dlbench.STANDARD_METRICS, "train_ce", "train_kl"),
        )
    )
