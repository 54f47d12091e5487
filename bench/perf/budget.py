"""How much ``bench perf`` times, so that a default run ends within a time budget whatever the
machine: each case is calibrated on a few batches, then given as many images as its share of the
budget allows (within bounds), and a case that cannot fit is skipped with the reason."""

from __future__ import annotations

from dataclasses import dataclass, replace

from dlbench.bench.perf.cases import Case, synthetic
from dlbench.bench.perf.measure import as_splits, engine_speed
from dlbench.bench.perf.reference import reference_speed

#: Shares of the budget per kind of case; the rest goes to peaks, breakdowns and distillation.
SHARES = {"mlp": 0.22, "cnn": 0.36}
#: The fewest batches a timing may see (a warm-up step, then enough steps to mean something).
MIN_BATCHES = {"mlp": 8, "cnn": 2}
CALIBRATION_BATCHES = 3


@dataclass(frozen=True)
class Planned:
    """A case as it will be timed, or why it is not.

    :param seconds: the estimated time of all its rounds.
    :param skipped: why the case is left out, or ``""``.
    """

    case: Case
    rounds: int
    seconds: float
    skipped: str = ""


def calibrate(case: Case) -> tuple[float, float]:
    """Seconds per image of the reference loop and of the engine (fp32), on a few batches."""
    count = CALIBRATION_BATCHES * case.batch_size
    images, labels = synthetic(case, count)
    reference = reference_speed(replace(case, images=count), images, labels)
    engine = engine_speed(case, as_splits(case, images, labels))
    return 1.0 / reference, 1.0 / engine


def plan_case(case: Case, budget: float, rounds: int, variants: int) -> Planned:
    """``case`` with as many images as fit in its share of ``budget`` over ``rounds`` rounds of
    the reference and ``variants`` engine variants; fewer rounds, then a skip, if even the
    fewest images do not fit."""
    reference, engine = calibrate(case)
    per_image = reference + variants * engine
    share = budget * SHARES.get(case.kind, 0.2)
    least = MIN_BATCHES.get(case.kind, 2) * case.batch_size
    for tries in range(rounds, 0, -1):
        images = int(share / (tries * per_image)) // case.batch_size * case.batch_size
        if images >= least:
            images = min(images, case.images)
            return Planned(replace(case, images=images), tries, tries * images * per_image)
    needed = least * per_image
    return Planned(
        case,
        0,
        0.0,
        f"one round of the fewest images ({least}) would take about {needed:.0f} s, more than "
        f"its share ({share:.0f} s) of the {budget:.0f} s budget; give --budget or --scale",
    )
