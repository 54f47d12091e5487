"""dlbench: fair, reproducible comparison tables of deep-learning models and training strategies.

``import dlbench`` is the whole API for plugin authors; everything else inside the package is
internal and may change between releases. A plugin is a module with ``@dlbench.hookimpl``
functions named after the hooks (``dlbench_register_models``, ...), which call ``register`` with
a spec record::

    import math

    from torch import nn

    import dlbench


    def build_tiny(input_shape, num_classes, *, hidden):
        return nn.Sequential(
            nn.Flatten(), nn.Linear(math.prod(input_shape), hidden), nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )


    @dlbench.hookimpl
    def dlbench_register_models(register: dlbench.Register[dlbench.ModelSpec]) -> None:
        register(dlbench.ModelSpec(
            name="tiny", build=build_tiny, description="one hidden layer",
            params={"hidden": dlbench.Param(32, int, "hidden width", minimum=1)},
        ))

Install it with an entry point in the ``dlbench`` group (``[project.entry-points.dlbench]``).
The API, by purpose:

- the contract: :func:`hookimpl`, :data:`Register`, the spec records (:class:`ModelSpec`,
  :class:`ModelFamily`, :class:`DatasetSpec`, :class:`StrategySpec`, :class:`ExecutorSpec`,
  :class:`ProbeSpec`, :class:`ProbePlot`), :class:`Param`, :class:`Cell`, :class:`Component`,
  :data:`STANDARD_METRICS` (the metrics the training loop records);
- running a cell: :class:`RunContext` (``context.fit``, ``context.optimizer``, ...),
  :class:`TrainingResult`, :class:`Batch`, :data:`LossFn`, :class:`TrainingHooks` (with
  :data:`BatchTransform`, :data:`AfterBackward`, :data:`EpochCallback`),
  :class:`Probe`, :class:`Executor`, :class:`CellFunction`, :class:`CellRecord`;
- data: :class:`DatasetRequest`, :class:`DatasetSplits`, :class:`Split`,
  :class:`Normalization`, :class:`Augmentation`, and the split helpers :func:`make_splits`,
  :func:`split_off`, :func:`select_classes`, :func:`channel_normalization` with their parameter
  sets :data:`SPLIT_PARAMS` and :data:`IMAGE_PARAMS`;
- training pieces: :data:`TRAINING_PARAMS` (what every built-in strategy accepts),
  :func:`cross_entropy`, :func:`distillation_loss`, :class:`BatchNormalizer`, :func:`predict`,
  :func:`evaluate`, :class:`TransferModel`, :func:`detach_head`, :func:`model_card`;
- errors: :class:`DlbenchError`, :class:`DataUnavailableError`, :class:`ConformanceError`;
- the conformance kit for a plugin's own tests: :func:`load_plugin`, :func:`check_model`,
  :func:`check_dataset`, :func:`check_strategy`;
- results as a pandas DataFrame: :func:`load_results`.
"""

from __future__ import annotations

import lazy_loader

# The names are declared once, in __init__.pyi (which type checkers read); each is imported on
# first use, so that `import dlbench` (and the `bench` command's start, which must be quick to
# answer Ctrl-C) does not import torch until something needs it.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
