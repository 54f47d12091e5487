"""The training toolkit (floor 2): the one training loop and what strategies and dataset plugins
build with. It imports only :mod:`dlbench.registry`.

Plugin authors reach these through :mod:`dlbench`; the names below are the engine's public API.
"""

from dlbench.engine.augment import BatchAugmenter
from dlbench.engine.batches import BatchNormalizer, evaluate, predict
from dlbench.engine.device import available_cores, resolve_device, seed_everything, set_threads
from dlbench.engine.loop import FitConfig, TrainingDiverged, fit
from dlbench.engine.losses import cross_entropy, distillation_loss
from dlbench.engine.model_card import model_card
from dlbench.engine.model_check import output_problem
from dlbench.engine.optim import TRAINING_PARAMS, make_optimizer, make_scheduler
from dlbench.engine.splits import (
    IMAGE_PARAMS,
    SPLIT_PARAMS,
    channel_normalization,
    make_splits,
    select_classes,
    split_off,
)
from dlbench.engine.transfer import TransferModel, detach_head

__all__ = [
    "IMAGE_PARAMS",
    "SPLIT_PARAMS",
    "TRAINING_PARAMS",
    "BatchAugmenter",
    "BatchNormalizer",
    "FitConfig",
    "TrainingDiverged",
    "TransferModel",
    "available_cores",
    "channel_normalization",
    "cross_entropy",
    "detach_head",
    "distillation_loss",
    "evaluate",
    "fit",
    "make_optimizer",
    "make_scheduler",
    "make_splits",
    "model_card",
    "output_problem",
    "predict",
    "resolve_device",
    "seed_everything",
    "select_classes",
    "set_threads",
    "split_off",
]
