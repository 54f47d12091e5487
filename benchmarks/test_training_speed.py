"""pytest-benchmark suite: one epoch of the engine and of the lab-style loop, per case.

Run with ``tox -e perf``; runs are saved under ``.benchmarks/``, and
``tox -e perf -- --benchmark-compare`` compares with the last saved run.
"""

from __future__ import annotations

import pytest

from dlbench.bench import perf

CASES = {case.name: case for case in perf.cases(scale=0.25) if case.kind == "mlp"}


@pytest.fixture(params=list(CASES), ids=["mlp-depth-2", "mlp-depth-10"])
def case(request):
    return CASES[request.param]


def test_engine(benchmark, case) -> None:
    images, labels = perf.synthetic(case, case.images)
    splits = perf.as_splits(case, images, labels)
    speed = benchmark.pedantic(perf.engine_speed, args=(case, splits), rounds=3)
    benchmark.extra_info["images_per_second"] = speed


def test_lab_style_reference(benchmark, case) -> None:
    images, labels = perf.synthetic(case, case.images)
    speed = benchmark.pedantic(perf.reference_speed, args=(case, images, labels), rounds=3)
    benchmark.extra_info["images_per_second"] = speed
