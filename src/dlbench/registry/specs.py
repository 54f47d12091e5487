"""The records plugins register: one frozen dataclass per kind of plugin.

Each record carries its name, what builds or runs it, a one-line description, the parameters it
accepts, and what it needs, so the runner can refuse an impossible cell with a reason before any
training starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlbench.registry.params import Param

STANDARD_METRICS: tuple[str, ...] = (
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "test_loss",
    "test_acc",
    "best_epoch",
    "train_seconds",
    "images_per_second",
    "parameters",
)
"""Metrics every strategy built on the training loop records; tables may name any of these.
Per-epoch metrics are stored for the best-validation and the last epoch as ``name@best`` and
``name@last``.
"""

#: Which values of the standard metrics are the better ones (``best_epoch`` has no direction).
METRIC_DIRECTIONS: Mapping[str, str] = {
    "train_loss": "lower",
    "train_acc": "higher",
    "val_loss": "lower",
    "val_acc": "higher",
    "test_loss": "lower",
    "test_acc": "higher",
    "train_seconds": "lower",
    "images_per_second": "higher",
    "parameters": "lower",
}
DIRECTIONS = ("higher", "lower")

#: fp32 weight, its gradient and Adam's two moments.
BYTES_PER_TRAINED_PARAMETER = 16

if TYPE_CHECKING:
    from torch import nn

    from dlbench.registry.cell import Cell
    from dlbench.registry.context import RunContext
    from dlbench.registry.data import DatasetSplits
    from dlbench.registry.execution import Executor
    from dlbench.registry.probes import Probe, ProbePlot
    from dlbench.registry.records import TrainingResult


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """A model architecture.

    :param name: registry name, e.g. ``mlp``.
    :param build: ``build(input_shape, num_classes, **params) -> nn.Module``.
    :param description: one line for ``bench list``.
    :param params: the parameters ``build`` accepts.
    :param input_ranks: accepted lengths of ``input_shape`` (3 for images as C, H, W);
        ``None`` accepts any shape (e.g. a model that flattens its input).
    :param parameter_count: ``parameter_count(input_shape, num_classes, **params) -> int``, an
        estimate of the model's size without building it, so that a matrix asking for a model
        that cannot fit in memory is refused before anything runs; ``None`` if unknown.
    """

    name: str
    build: Callable[..., nn.Module]
    description: str
    params: Mapping[str, Param] = field(default_factory=dict)
    input_ranks: frozenset[int] | None = None
    parameter_count: Callable[..., int] | None = None

    def refuses(self, input_shape: tuple[int, ...]) -> str | None:
        """Why this model cannot take inputs of ``input_shape``, or ``None`` if it can."""
        if self.input_ranks is not None and len(input_shape) not in self.input_ranks:
            ranks = " or ".join(str(r) for r in sorted(self.input_ranks))
            return (
                f"model {self.name!r} needs inputs with {ranks} dimensions, "
                f"dataset gives shape {tuple(input_shape)}"
            )
        return None

    def too_big(
        self,
        input_shape: tuple[int, ...],
        num_classes: int,
        params: Mapping[str, Any],
        memory_bytes: int,
    ) -> str | None:
        """Why training this model cannot fit in ``memory_bytes``, by ``parameter_count``
        (weights, gradients and two optimizer moments: 16 bytes a parameter), or ``None``."""
        if self.parameter_count is None:
            return None
        count = self.parameter_count(input_shape, num_classes, **params)
        needed = count * BYTES_PER_TRAINED_PARAMETER
        if needed <= memory_bytes:
            return None
        return (
            f"model {self.name!r} would have about {count:.3g} parameters; training it needs "
            f"about {needed / 2**30:,.0f} GiB, more than this machine's "
            f"{memory_bytes / 2**30:,.0f} GiB of memory"
        )


@dataclass
class ModelFamily:
    """Many models under one prefix, resolved by name when first asked for (e.g. ``timm:*``).

    For libraries with more architectures than are worth registering one by one at start-up:
    ``names`` and ``resolve`` may import the library; nothing does until a name with the prefix
    is used or listed.

    :param prefix: the names' common start, e.g. ``timm:``.
    :param description: one line for ``bench list``.
    :param names: every name in the family, prefix included.
    :param resolve: the spec for a name in the family, or ``None`` if there is no such model.
    """

    prefix: str
    description: str
    names: Callable[[], list[str]]
    resolve: Callable[[str], ModelSpec | None]


@dataclass(frozen=True)
class DatasetRequest:
    """What a dataset loader is asked for.

    :param params: the dataset's resolved parameters.
    :param data_root: directory where datasets live or are downloaded to.
    :param download: whether fetching missing files from the internet is allowed.
    """

    params: Mapping[str, Any]
    data_root: Path
    download: bool


@dataclass(frozen=True, kw_only=True)
class DatasetSpec:
    """A classification dataset that fits in memory.

    :param name: registry name, e.g. ``mnist``.
    :param load: ``load(request) -> DatasetSplits``.
    :param description: one line for ``bench list``.
    :param input_shape: shape of one input without the batch dimension, e.g. ``(1, 28, 28)``.
    :param num_classes: number of target classes.
    :param params: the parameters ``load`` accepts.
    """

    name: str
    load: Callable[[DatasetRequest], DatasetSplits]
    description: str
    input_shape: tuple[int, ...]
    num_classes: int
    params: Mapping[str, Param] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class StrategySpec:
    """A way of training (plain supervised, distillation, fine-tuning, ...).

    :param name: registry name, e.g. ``plain``.
    :param run: ``run(cell, context) -> TrainingResult``; called once per cell.
    :param description: one line for ``bench list``.
    :param params: the parameters ``run`` reads from ``cell.strategy.params``.
    :param needs: inputs that must be present in the strategy's parameters (non-null) for a cell
        to be possible, e.g. ``frozenset({"teacher"})``.
    :param metrics: the metric names its records carry, which tables may use.
    :param directions: metric name -> ``"higher"`` or ``"lower"``: which values of its own
        metrics are the better ones (the standard metrics' are known), so that a comparison
        decides them the right way up; a metric without one must be given ``better:`` where a
        matrix decides or tunes on it.
    """

    name: str
    run: Callable[[Cell, RunContext], TrainingResult]
    description: str
    params: Mapping[str, Param] = field(default_factory=dict)
    needs: frozenset[str] = frozenset()
    metrics: tuple[str, ...] = STANDARD_METRICS
    directions: Mapping[str, str] = field(default_factory=dict)

    def direction(self, metric: str) -> str | None:
        """``higher`` or ``lower``: which values of ``metric`` are better; ``None`` if unknown."""
        return self.directions.get(metric) or METRIC_DIRECTIONS.get(metric)

    def refuses(self, params: Mapping[str, Any]) -> str | None:
        """Why a cell with these resolved ``params`` cannot run, or ``None`` if it can."""
        missing = sorted(need for need in self.needs if params.get(need) is None)
        if missing:
            return f"strategy {self.name!r} needs {', '.join(missing)}"
        return None


@dataclass(frozen=True, kw_only=True)
class ExecutorSpec:
    """A way of running cells (in this process, on a cluster, ...).

    :param name: registry name, e.g. ``local``.
    :param create: ``create(**options) -> Executor``, called with every declared option
        (defaults filled in); options come from the matrix (``executor: {name: ..., KEY:
        VALUE}``) or the command line (``--executor-opt KEY=VALUE``), and one the executor does
        not declare is an error.
    :param description: one line for ``bench list``.
    :param params: the options ``create`` takes (``jobs``, ``address``, ...).
    """

    name: str
    create: Callable[..., Executor]
    description: str
    params: Mapping[str, Param] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ProbeSpec:
    """A diagnostic that observes training at chosen steps (e.g. per-layer gradient norms).

    Probes do not change training, so they are not part of a cell's identity; a stored cell that
    lacks a probe's results is run again when a matrix asks for that probe.

    :param name: registry name, e.g. ``grad_norms``.
    :param create: ``create(**params) -> Probe``; one probe object per cell.
    :param description: one line for ``bench list``.
    :param params: the parameters ``create`` accepts.
    :param plot: how reports draw its results (see ``ProbePlot``);
        ``None`` for no plot.
    """

    name: str
    create: Callable[..., Probe]
    description: str
    params: Mapping[str, Param] = field(default_factory=dict)
    plot: ProbePlot | None = None


Spec = ModelSpec | DatasetSpec | StrategySpec | ExecutorSpec | ProbeSpec
