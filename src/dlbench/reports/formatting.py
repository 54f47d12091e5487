"""How metric values read in tables: accuracies as percentages, parameters as 1.2M, ..."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

METRIC_LABELS = {
    "train_loss": "Train loss",
    "train_acc": "Train accuracy",
    "val_loss": "Val loss",
    "val_acc": "Val accuracy",
    "test_loss": "Test loss",
    "test_acc": "Test accuracy",
    "best_epoch": "Best epoch",
    "train_seconds": "Train time (s)",
    "images_per_second": "Images/s",
    "parameters": "Parameters",
    "trainable_parameters": "Trainable parameters",
}
#: Metrics a configuration fixes: every run of it gives the same value.
FIXED_METRICS = frozenset({"parameters", "trainable_parameters"})
#: Metrics recorded per epoch, which a table reads at the best or the last epoch.
PER_EPOCH = frozenset({"train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc"})


def metric_label(metric: str) -> str:
    """A header for ``metric``."""
    return METRIC_LABELS.get(metric, metric.replace("_", " ").capitalize())


def is_accuracy(metric: str) -> bool:
    """Accuracies are stored as fractions and shown as percentages."""
    return metric.endswith("_acc") or metric == "accuracy"


def format_value(metric: str, value: float, signed: bool = False) -> str:
    """One value of ``metric`` as text; ``signed`` for differences (``+0.23%``)."""
    sign = "+" if signed else ""
    if math.isinf(value):  # an interval's end before there are enough runs to bound it
        return ("-∞" if value < 0 else f"{sign}∞") + ("%" if is_accuracy(metric) else "")
    if is_accuracy(metric):
        return f"{value * 100:{sign}.2f}%"
    if metric in ("parameters", "trainable_parameters"):
        return human_count(value)
    if metric == "images_per_second":
        return f"{value:{sign},.0f}"
    if metric == "best_epoch":
        return f"{value:{sign}g}"
    if metric == "train_seconds":
        return f"{value:{sign}.1f}"
    return f"{value:{sign}.4f}"


def format_values(metric: str, values: Sequence[float], interval: str = "std") -> str:
    """Mean of ``values`` (one per seed) with their spread when there are several that differ:
    ``± std``, or with ``interval="ci95"`` ``±`` the half-width of the 95% t interval."""
    mean = statistics.fmean(values)
    text = format_value(metric, mean)
    # A measured metric shows its spread even when it is zero (``± 0.00``), so that a cell of
    # several runs never reads like one run; a count that cannot vary needs none.
    if len(values) > 1 and (len(set(values)) > 1 or metric not in FIXED_METRICS):
        spread = statistics.stdev(values)
        if interval == "ci95":
            spread = t_half_width(values)
        width = f"{spread * 100:.2f}" if is_accuracy(metric) else format_value(metric, spread)
        text = text.removesuffix("%") + f" ± {width}" + ("%" if is_accuracy(metric) else "")
    return text


def t_half_width(values: Sequence[float], confidence: float = 0.95) -> float:
    """Half-width of the t confidence interval of the mean of ``values``."""
    from scipy.stats import t

    n = len(values)
    return float(t.ppf(0.5 + confidence / 2, n - 1) * statistics.stdev(values) / n**0.5)


def human_count(value: float) -> str:
    """``11_800_000`` -> ``11.8M``; ``700_460`` -> ``700.46K``."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:.1f}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.2f}K"
    return f"{value:g}"
