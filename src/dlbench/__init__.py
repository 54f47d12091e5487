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

- the contract: ``hookimpl``, ``Register``, the spec records (``ModelSpec``,
  ``ModelFamily``, ``DatasetSpec``, ``StrategySpec``, ``ExecutorSpec``,
  ``ProbeSpec``, ``ProbePlot``), ``Param``, ``Cell``, ``Component``,
  ``STANDARD_METRICS`` (the metrics the training loop records);
- running a cell: ``RunContext`` (``context.fit``, ``context.optimizer``, ...),
  ``TrainingResult``, ``Batch``, ``LossFn``, ``TrainingHooks`` (with
  ``BatchTransform``, ``AfterBackward``, ``EpochCallback``),
  ``Probe``, ``Executor``, ``CellFunction``, ``CellRecord``;
- data: ``DatasetRequest``, ``DatasetSplits``, ``Split``,
  ``Normalization``, ``Augmentation``, and the split helpers ``make_splits``,
  ``split_off``, ``select_classes``, ``channel_normalization`` with their parameter
  sets ``SPLIT_PARAMS`` and ``IMAGE_PARAMS``;
- training pieces: ``TRAINING_PARAMS`` (what every built-in strategy accepts),
  ``cross_entropy``, ``distillation_loss``, ``BatchNormalizer``, ``predict``,
  ``evaluate``, ``TransferModel``, ``detach_head``, ``model_card``;
- errors: ``DlbenchError``, ``DataUnavailableError``, ``ConformanceError``;
- the conformance kit for a plugin's own tests: ``load_plugin``, ``check_model``,
  ``check_dataset``, ``check_strategy``;
- results as a pandas DataFrame: ``load_results``.
"""

from __future__ import annotations

import lazy_loader

# The names are declared once, in __init__.pyi (which type checkers read); each is imported on
# first use, so that `import dlbench` (and the `bench` command's start, which must be quick to
# answer Ctrl-C) does not import torch until something needs it.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
