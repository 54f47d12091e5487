# The public API of dlbench, declared once: the names below are what `import dlbench` offers
# (its __all__), loaded on first use by dlbench/__init__.py, and what type checkers see.

# -- running from Python, the conformance kit and results -------------------------------------
from .bench.api import Results as Results, ResultTable as ResultTable, plan as plan, run as run
from .bench.results.export import load_results as load_results
from .bench.testing import (
    check_dataset as check_dataset,
    check_model as check_model,
    check_strategy as check_strategy,
    load_plugin as load_plugin,
)

# -- the training toolkit --------------------------------------------------------------------
from .engine.batches import (
    BatchNormalizer as BatchNormalizer,
    evaluate as evaluate,
    predict as predict,
)
from .engine.losses import cross_entropy as cross_entropy, distillation_loss as distillation_loss
from .engine.model_card import model_card as model_card
from .engine.optim import TRAINING_PARAMS as TRAINING_PARAMS
from .engine.splits import (
    IMAGE_PARAMS as IMAGE_PARAMS,
    SPLIT_PARAMS as SPLIT_PARAMS,
    channel_normalization as channel_normalization,
    make_splits as make_splits,
    select_classes as select_classes,
    split_off as split_off,
)
from .engine.transfer import TransferModel as TransferModel, detach_head as detach_head

# -- the contract ----------------------------------------------------------------------------
from .registry.cell import Cell as Cell, Component as Component
from .registry.context import RunContext as RunContext
from .registry.data import (
    Augmentation as Augmentation,
    DatasetSplits as DatasetSplits,
    Normalization as Normalization,
    Split as Split,
)
from .registry.errors import (
    ConformanceError as ConformanceError,
    DataUnavailableError as DataUnavailableError,
    DlbenchError as DlbenchError,
    install_hint as install_hint,
)
from .registry.execution import (
    CellFunction as CellFunction,
    Executor as Executor,
    Footprint as Footprint,
)
from .registry.hookspecs import Register as Register, hookimpl as hookimpl
from .registry.params import Param as Param
from .registry.probes import Probe as Probe, ProbePlot as ProbePlot
from .registry.records import CellRecord as CellRecord, TrainingResult as TrainingResult
from .registry.specs import (
    STANDARD_METRICS as STANDARD_METRICS,
    DatasetRequest as DatasetRequest,
    DatasetSpec as DatasetSpec,
    ExecutorSpec as ExecutorSpec,
    ModelFamily as ModelFamily,
    ModelSpec as ModelSpec,
    ProbeSpec as ProbeSpec,
    StrategySpec as StrategySpec,
)
from .registry.training import (
    AfterBackward as AfterBackward,
    Batch as Batch,
    BatchTransform as BatchTransform,
    EpochCallback as EpochCallback,
    LossFn as LossFn,
    TrainingHooks as TrainingHooks,
)

# -- statistics -----------------------------------------------------------------------------
from .stats.evaluate import decide as decide
from .stats.records import Decision as Decision
