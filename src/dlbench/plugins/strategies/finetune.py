"""Transfer learning: reuse a trained backbone for new classes.

The backbone is another cell's trained model (``backbone: {from: EXPERIMENT}``, e.g. the CIFAR-10
teacher) or, without ``backbone``, the cell's own model as its plugin builds it (a timm model
with pretrained weights, say). Its classifier is replaced by a new head for the target classes.

Modes:

- ``features``: the frozen backbone's features are extracted once per backbone and dataset
  (cached in the results directory and shared by every classifier cell), then a scikit-learn
  classifier is fitted on them: ``svm`` (linear SVM), ``knn`` or ``logreg``.
- ``linear_probe``: the backbone stays frozen; only the new head trains.
- ``full``: everything trains, the backbone at ``lr * backbone_lr_scale``, optionally frozen for
  the first ``freeze_epochs`` epochs (gradual unfreezing).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

import dlbench
from dlbench import (
    STANDARD_METRICS,
    TRAINING_PARAMS,
    BatchNormalizer,
    Cell,
    DlbenchError,
    Param,
    RunContext,
    Split,
    StrategySpec,
    TrainingHooks,
    TrainingResult,
    TransferModel,
    detach_head,
    predict,
)

FINETUNE_PARAMS = {
    **TRAINING_PARAMS,
    "backbone": Param(
        None,
        str,
        "a trained backbone: {from: EXPERIMENT}; default: the cell's model",
        nullable=True,
        artifact="checkpoint",
    ),
    "mode": Param("full", str, "what trains", choices=("features", "linear_probe", "full")),
    "classifier": Param(
        "logreg", str, "classifier for mode 'features'", choices=("svm", "knn", "logreg")
    ),
    "C": Param(
        1.0, float, "inverse regularisation of svm and logreg", minimum=0, exclusive_minimum=True
    ),
    "neighbors": Param(5, int, "neighbours for knn", minimum=1),
    "max_iter": Param(1000, int, "iterations for svm and logreg", minimum=1),
    "backbone_lr_scale": Param(
        0.1, float, "backbone learning rate / head learning rate (full)", minimum=0
    ),
    "freeze_epochs": Param(
        0, int, "epochs with the backbone frozen before it trains (full)", minimum=0
    ),
}


def make_classifier(params: Mapping[str, Any]) -> Any:
    """The scikit-learn classifier named by ``params['classifier']``, on standardised features.

    scikit-learn is imported here, not at plugin load, to keep every ``bench`` command quick.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    name = params["classifier"]
    if name == "svm":
        model: Any = LinearSVC(C=params["C"], max_iter=params["max_iter"])
    elif name == "knn":
        model = KNeighborsClassifier(n_neighbors=params["neighbors"])
    else:
        model = LogisticRegression(C=params["C"], max_iter=params["max_iter"])
    return make_pipeline(StandardScaler(), model)


def run_finetune(cell: Cell, context: RunContext) -> TrainingResult:
    """Transfer the backbone to the cell's dataset in the cell's mode."""
    params = cell.strategy.params
    splits = context.load_dataset()
    if params["backbone"] is not None:
        producer = context.producer(params["backbone"])
        if producer.model.to_json() != cell.model.to_json():
            raise DlbenchError(
                f"model {cell.model.describe()} differs from the backbone's "
                f"{producer.model.describe()}; give the cell the backbone's model"
            )
        backbone = context.load_model(params["backbone"])
        source: dict[str, Any] = {"checkpoint": context.checkpoint_name(params["backbone"])}
    else:
        backbone = context.build_model(splits)
        source = {"model": cell.model.to_json()}
    backbone, features = detach_head(backbone)
    model = TransferModel(backbone, features, splits.num_classes).to(context.device)
    if params["mode"] == "features":
        return _fit_classifier(cell, context, model, source)

    model.freeze(params["mode"] == "linear_probe" or params["freeze_epochs"] > 0)
    head = list(model.head.parameters())
    groups = [{"params": head, "lr": params["lr"]}]
    if params["mode"] == "full":
        groups.append(
            {
                "params": list(model.backbone.parameters()),
                "lr": params["lr"] * params["backbone_lr_scale"],
            }
        )
    optimizer = context.optimizer(groups)

    def unfreeze(epoch: int, metrics: Mapping[str, float]) -> None:
        if params["mode"] == "full" and epoch == params["freeze_epochs"]:
            model.freeze(False)

    result = context.fit(model, splits, optimizer, hooks=TrainingHooks(on_epoch=unfreeze))
    result.final["trainable_parameters"] = sum(
        p.numel() for group in groups for p in group["params"] if p.requires_grad
    )
    return result


def _fit_classifier(
    cell: Cell, context: RunContext, model: TransferModel, source: dict[str, Any]
) -> TrainingResult:
    params = cell.strategy.params
    splits = context.load_dataset()
    model.freeze(True)
    normalize = BatchNormalizer(splits.normalization, len(splits.input_shape), context.device)

    def extract(split: Split) -> Callable[[], torch.Tensor]:
        return lambda: predict(model.backbone, split.inputs, normalize, params["eval_batch_size"])

    present = {
        name: split
        for name, split in (("train", splits.train), ("val", splits.val), ("test", splits.test))
        if split is not None
    }
    features, targets = {}, {}
    for name, split in present.items():
        key = {
            "kind": "features",
            "backbone": source,
            "dataset": cell.dataset.to_json(),
            "split": name,
        }
        features[name] = context.cached(key, extract(split)).cpu().numpy()
        targets[name] = split.targets.cpu().numpy()
    classifier = make_classifier(params)
    started = time.perf_counter()
    classifier.fit(features["train"], targets["train"])
    seconds = time.perf_counter() - started
    scores = {name: float(classifier.score(features[name], targets[name])) for name in features}
    metrics = {"epoch": 1, "train_acc": scores["train"], "val_acc": scores["val"]}
    context.epoch_end(1, metrics)
    final: dict[str, Any] = {"best_epoch": 1, "last_epoch": 1, "train_seconds": seconds}
    for name, score in scores.items():
        final[f"{name}_acc@best"] = final[f"{name}_acc@last"] = score
    estimator = classifier[-1]
    final["trainable_parameters"] = int(
        sum(np.size(getattr(estimator, a, ())) for a in ("coef_", "intercept_"))
    )
    context.trained_model(model)
    return TrainingResult(epochs=[metrics], final=final)


@dlbench.hookimpl
def dlbench_register_strategies(register: dlbench.Register[StrategySpec]) -> None:
    """Register ``finetune``."""
    register(
        StrategySpec(
            name="finetune",
            run=run_finetune,
            description="transfer a trained backbone: classical classifiers on its features, "
            "linear probe, or full fine-tuning",
            params=FINETUNE_PARAMS,
            metrics=(*STANDARD_METRICS, "trainable_parameters"),
        )
    )
