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
import torch.nn.functional as F

from bench.engine.cell_training import fit_cell
from bench.engine.loop import Batch, BatchNormalizer, predict
from bench.engine.optim import TRAINING_PARAMS, make_optimizer
from registry import Cell, Param, RunContext, StrategySpec, TrainingResult, hookimpl
from registry.errors import DlbenchError
from registry.specs import STANDARD_METRICS

DISTILL_PARAMS = {
    **TRAINING_PARAMS,
    "teacher": Param(
        None, str, "the teacher: {from: EXPERIMENT}", nullable=True, artifact="checkpoint"
    ),
    "temperature": Param(4.0, float, "softmax temperature T", minimum=0, exclusive_minimum=True),
    "alpha": Param(0.5, float, "weight of the soft (teacher) term", minimum=0, maximum=1),
    "mode": Param("cached", str, "teacher outputs", choices=("cached", "online")),
}


def distillation_loss(
    student_logits: torch.Tensor,
    targets: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float,
    alpha: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The distillation loss and its parts ``ce`` (hard labels) and ``kl`` (soft, before T^2)."""
    hard = F.cross_entropy(student_logits, targets)
    soft = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=1),
        F.log_softmax(teacher_logits / temperature, dim=1),
        log_target=True,
        reduction="batchmean",
    )
    loss = (1 - alpha) * hard + alpha * temperature**2 * soft
    return loss, {"ce": hard, "kl": soft}


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
        raise DlbenchError(
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
    optimizer = make_optimizer(student.parameters(), params, context.device)
    return fit_cell(cell, context, student, splits, optimizer, loss_fn=loss_fn)


@hookimpl
def dlbench_register_strategies(register):  # type: ignore[no-untyped-def]
    """Register ``distill``."""
    register(
        StrategySpec(
            name="distill",
            run=run_distill,
            description="knowledge distillation from a teacher cell (cached or online outputs)",
            params=DISTILL_PARAMS,
            needs=frozenset({"teacher"}),
            metrics=(*STANDARD_METRICS, "train_ce", "train_kl"),
        )
    )
