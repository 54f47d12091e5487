"""``bench perf --matrix-section``: the throughput of a matrix rather than a cell: cells in worker
processes against one after another, and the lab's MNIST grid with three seeds against the
lab-style loop with one."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from dlbench.bench.perf.cases import builder, mlp_case, synthetic
from dlbench.bench.perf.measure import as_splits, engine_speed
from dlbench.bench.perf.reference import reference_speed
from dlbench.bench.perf.tables import markdown
from dlbench.registry.catalog import Catalog

#: The lab's MNIST grid (Exercises 1.1 and 1.2): model, depth; 48,000 images, 10 epochs each.
GRID = (
    *(("mlp", depth) for depth in (2, 4, 6, 8, 10)),
    *(("residual_mlp", depth) for depth in (6, 8, 10)),
)
GRID_IMAGES = 48_000 * 10


#: Exercises 1.1 and 1.2 on the embedded digits with three seeds: the matrix ``--jobs`` is timed on.
DIGITS_GRID = """
name: perf_jobs
defaults:
  dataset: {name: digits, val_fraction: 0.2, test_fraction: 0.2, split_seed: 0}
  strategy: {name: plain, optimizer: adam, lr: 0.001, batch_size: 64, epochs: 10}
  seeds: [0, 1, 2]
experiments:
  ex1_1_mlp_depth:
    model: {name: mlp, hidden: 512, depth: [2, 4, 6, 8, 10]}
  ex1_2_residual_mlp:
    model: {name: residual_mlp, hidden: 512, depth: [6, 8, 10]}
"""


def jobs_rows(threads: int, device: str) -> list[list[str]]:
    """Wall time of :data:`DIGITS_GRID` with ``--jobs 1`` and ``--jobs 2`` (``threads`` in all,
    split between the workers), each in a fresh results directory."""
    seconds = {}
    with tempfile.TemporaryDirectory(prefix="perf-jobs-") as folder:
        matrix = Path(folder) / "grid.yaml"
        matrix.write_text(DIGITS_GRID)
        for jobs in (1, 2):
            command = [
                sys.executable,
                "-c",
                "import sys; from dlbench.bench.cli import main; sys.exit(main(sys.argv[1:]))",
                "run",
                "--matrix",
                str(matrix),
                "--out",
                str(Path(folder) / f"jobs{jobs}"),
                "--jobs",
                str(jobs),
                "--threads",
                str(max(1, threads // jobs)),
                "--device",
                device,
            ]
            started = time.perf_counter()
            # Run from the temporary folder: a checkout's dlbench/ folder in the working
            # directory would shadow the installed package.
            finished = subprocess.run(
                command, capture_output=True, text=True, check=False, cwd=folder
            )
            seconds[jobs] = time.perf_counter() - started
            if finished.returncode != 0:
                raise RuntimeError(f"bench run --jobs {jobs} failed: {finished.stderr.strip()}")
    return [
        [
            "digits, Exercises 1.1 and 1.2, 3 seeds",
            f"{seconds[1]:.1f}",
            f"{seconds[2]:.1f}",
            f"{seconds[1] / seconds[2]:.2f}x",
        ]
    ]


def grid_lines(catalog: Catalog, images: int, device: str) -> list[str]:
    """The lab's MNIST grid: three seeds with dlbench against one seed with the lab-style loop,
    from the speeds of each configuration measured here."""
    reference = solo = 0.0
    for name, depth in GRID:
        case = replace(
            mlp_case(catalog, depth, images),
            build=builder(catalog, name, (1, 28, 28), depth=depth, hidden=512),
            device=device,
        )
        inputs, labels = synthetic(case, case.images)
        reference += GRID_IMAGES / reference_speed(case, inputs, labels)
        solo += 3 * GRID_IMAGES / engine_speed(case, as_splits(case, inputs, labels))
    return [
        "The lab's MNIST grid (Exercises 1.1 and 1.2: 8 configurations of 48,000 images, 10",
        "epochs), estimated from the speeds of each configuration measured here:",
        f"  lab-style loop, 1 seed:          {reference / 60:6.1f} min",
        f"  dlbench, 3 seeds one at a time: {solo / 60:6.1f} min ({solo / reference:.2f}x)",
    ]


def matrix_section(catalog: Catalog, images: int, threads: int, device: str) -> None:
    """Print the three matrix-level comparisons; ``images`` per timing, ``threads`` in all."""
    print("\nCells in worker processes (wall seconds):\n")
    print(markdown(jobs_rows(threads, device), ["matrix", "--jobs 1", "--jobs 2", "speed-up"]))
    print("\n" + "\n".join(grid_lines(catalog, images, device)))
