"""How much ``bench perf`` times, so that a default run ends within a time budget whatever the
machine: each case is calibrated on a few batches, then given as many images as its share of the
budget allows (within bounds), and a case that cannot fit is skipped with the reason."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from dlbench.bench.perf.cases import WARM_UP_BATCHES, Case, synthetic
from dlbench.bench.perf.measure import as_splits, engine_speed
from dlbench.bench.perf.reference import reference_speed

#: Weights of the kinds of case in the budget left to them (calibration included); the peaks,
#: the step breakdowns and distillation take about ``FIXED_SECONDS`` on a 2-core CPU.
WEIGHTS = {"mlp": 1.0, "cnn": 2.0}
FIXED_SECONDS = 30.0
#: The fewest batches a timing may see (a warm-up step, then enough steps to mean something).
MIN_BATCHES = {"mlp": 8, "cnn": 2}
CALIBRATION_BATCHES = 2
#: Calibration batches are this much smaller than the case's (images/s barely depend on it).
CALIBRATION_SHRINK = {"mlp": 1, "cnn": 4}


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
    small = replace(case, batch_size=case.batch_size // CALIBRATION_SHRINK.get(case.kind, 1))
    count = CALIBRATION_BATCHES * small.batch_size
    images, labels = synthetic(small, count)
    reference = reference_speed(replace(small, images=count), images, labels)
    engine = engine_speed(small, as_splits(small, images, labels))
    return 1.0 / reference, 1.0 / engine


def share(case: Case, left: float, cases_left: list[Case]) -> float:
    """``case``'s part of the ``left`` seconds, by the weights of the cases still to time."""
    total = sum(WEIGHTS.get(c.kind, 1.0) for c in cases_left) or 1.0
    return left * WEIGHTS.get(case.kind, 1.0) / total


def plan_case(case: Case, seconds: float, rounds: int, variants: int) -> Planned:
    """``case`` with as many images as fit in ``seconds`` (calibration included) over
    ``rounds`` rounds of the reference and ``variants`` engine variants; fewer rounds, then a
    skip, if even the fewest images do not fit."""
    started = time.perf_counter()
    reference, engine = calibrate(case)
    per_image = reference + variants * engine
    # Each engine variant warms up on WARM_UP_BATCHES more batches every round.
    warm_up = variants * WARM_UP_BATCHES * case.batch_size * engine
    available = seconds - (time.perf_counter() - started)
    least = MIN_BATCHES.get(case.kind, 2) * case.batch_size
    for tries in range(rounds, 0, -1):
        fit = (available / tries - warm_up) / per_image
        images = max(0, int(fit)) // case.batch_size * case.batch_size
        if images >= least:
            images = min(images, case.images)
            return Planned(
                replace(case, images=images), tries, tries * (images * per_image + warm_up)
            )
    needed = least * per_image + warm_up
    return Planned(
        case,
        0,
        0.0,
        f"one round of the fewest images ({least}) would take about {needed:.0f} s, more than "
        f"the {max(available, 0):.0f} s left to it; give a larger --budget, or --scale",
    )
