"""``bench perf --accuracy``: does the fast engine reach the accuracy of the lab-style loop?

Each side trains the same MLP from the same initial weights (one per seed) on the same train
split of real MNIST, with the same hyperparameters (batch 64, Adam at 1e-3), for the same number of
epochs, and is scored on the same validation split by the same function. Batch order differs (each
side shuffles its own way), which is part of the seed noise the comparison allows for.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import torch
from scipy.stats import ttest_ind

from dlbench.bench.perf.cases import Case, engine_optimizer
from dlbench.bench.perf.reference import as_arrays, lab_style_epoch, lab_style_loader
from dlbench.engine.batches import BatchNormalizer, evaluate
from dlbench.engine.loop import FitConfig, fit
from dlbench.registry.catalog import Catalog
from dlbench.registry.data import DatasetSplits
from dlbench.registry.params import resolve_params
from dlbench.registry.specs import DatasetRequest

#: The variants compared, the reference first.
VARIANTS = ("reference fp32", "dlbench fp32", "dlbench bf16")


@dataclass(frozen=True)
class VariantResult:
    """Validation accuracy (fraction) and training images/s of one variant, one entry per seed."""

    variant: str
    accuracies: tuple[float, ...]
    images_per_second: tuple[float, ...]


@dataclass(frozen=True)
class Difference:
    """Mean accuracy difference to the reference with its 95% (Welch) interval."""

    mean: float
    low: float
    high: float

    @property
    def within_noise(self) -> bool:
        """Whether the interval holds zero: no difference the seeds can tell apart."""
        return self.low <= 0.0 <= self.high


def load_mnist(catalog: Catalog, data_root: Path, download: bool) -> DatasetSplits:
    """Real MNIST from ``data_root`` (torchvision layout; downloaded there when ``download`` and
    missing), split as ``bench run`` splits it."""
    spec = catalog.datasets.get("mnist")
    params = resolve_params(spec.params, {}, "dataset 'mnist'")
    return spec.load(DatasetRequest(params, data_root, download))


def train_reference(
    case: Case, splits: DatasetSplits, epochs: int, seed: int
) -> tuple[float, float]:
    """Validation accuracy and images/s of the lab-style loop after ``epochs`` epochs."""
    images, labels = as_arrays(splits.train)
    loader = lab_style_loader(images, labels, case.batch_size, splits.normalization, seed)
    model = case.model(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    speeds = [lab_style_epoch(model, loader, optimizer) for _ in range(epochs)]
    normalize = BatchNormalizer(splits.normalization, len(splits.input_shape), torch.device("cpu"))
    _, accuracy = evaluate(model, splits.val, normalize, 1024)
    return accuracy, statistics.fmean(speeds)


def train_engine(
    case: Case, splits: DatasetSplits, epochs: int, seed: int, precision: str
) -> tuple[float, float]:
    """Validation accuracy (last epoch) and images/s of dlbench's engine after ``epochs``."""
    model = case.model(seed)
    optimizer = engine_optimizer(model)
    result = fit(
        model, splits, optimizer, FitConfig(epochs, case.batch_size, 1024, seed, precision)
    )
    return float(result.final["val_acc@last"]), float(result.final["images_per_second"])


def compare_accuracy(
    case: Case, splits: DatasetSplits, epochs: int, seeds: int
) -> list[VariantResult]:
    """Train every variant once per seed; the reference first."""
    runs: dict[str, list[tuple[float, float]]] = {variant: [] for variant in VARIANTS}
    for seed in range(seeds):
        runs["reference fp32"].append(train_reference(case, splits, epochs, seed))
        for precision in ("fp32", "bf16"):
            runs[f"dlbench {precision}"].append(train_engine(case, splits, epochs, seed, precision))
    return [
        VariantResult(
            variant,
            tuple(accuracy for accuracy, _ in results),
            tuple(speed for _, speed in results),
        )
        for variant, results in runs.items()
    ]


def difference(result: VariantResult, reference: VariantResult) -> Difference:
    """``result``'s mean accuracy minus the reference's, with a Welch 95% interval."""
    mean = statistics.fmean(result.accuracies) - statistics.fmean(reference.accuracies)
    if len(result.accuracies) < 2 or len(set(result.accuracies + reference.accuracies)) < 2:
        return Difference(mean, mean, mean)
    interval = ttest_ind(result.accuracies, reference.accuracies, equal_var=False)
    low, high = interval.confidence_interval(0.95)
    return Difference(mean, float(low), float(high))
