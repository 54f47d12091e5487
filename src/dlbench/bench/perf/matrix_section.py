"""``bench perf --matrix-section``: matrices timed end to end, each run a separate ``bench run``
process in a fresh results directory, wall clock from start to exit.

Three comparisons:

* ``--jobs 1``, ``--jobs 2`` and the default (``--jobs auto``) on the digits version of the lab's
  grid (and any ``--matrix`` given), with the default's results checked against ``--jobs 1``'s.
* The same three on a decided comparison: the lab's depth-10 question (residual against plain
  MLPs) asked in two waves of long cells, the case where workers must start from the first wave.
* The lab's MNIST grid (Exercises 1.1 and 1.2): the lab-style loop with one seed (``lab_grid``)
  against ``bench run`` with 3 and 5 seeds under the default ``--jobs auto``; the same epochs and
  images on every side.

Real MNIST is used at its real size where ``--data-root`` holds it; else MNIST-shaped random
images stand in, as many as fit the budget, and the lines say so.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dlbench.bench.perf.lab_data import DECIDED, GRID_EPOCHS, mnist_data
from dlbench.bench.perf.lab_grid import GRID, MATRIX
from dlbench.bench.perf.tables import markdown
from dlbench.registry.catalog import Catalog
from dlbench.registry.errors import DlbenchError

#: Exercises 1.1 and 1.2 on the embedded digits with three seeds.
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
#: Metrics whose values must agree between ``--jobs`` settings.
COMPARED = ("val_acc@best", "val_acc@last", "test_acc@best", "val_loss@last", "train_loss@last")
#: Largest difference of those metrics still counted equal: different thread counts may sum in
#: a different order, which moves a loss in its last digits.
TOLERANCE = 1e-4


@dataclass
class TimedRun:
    """One ``bench run``: its wall seconds, its records' metrics and the executor's choice."""

    seconds: float
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    choice: str = ""
    #: Threads each cell trained with (a cell's results depend on them: float sums are added
    #: in another order with other threads).
    threads: frozenset[int] = frozenset()


def bench_run(
    matrix: Path, out: Path, options: Sequence[str], env: dict[str, str] | None = None
) -> TimedRun:
    """Time ``bench run --matrix matrix --out out *options`` in a new process."""
    command = [
        sys.executable,
        "-c",
        "import sys; from dlbench.bench.cli import main; sys.exit(main(sys.argv[1:]))",
        "run",
        "--matrix",
        str(matrix),
        "--out",
        str(out),
        *options,
    ]
    started = time.perf_counter()
    # Run from the results' folder: a user's own modules in the working folder stay out of it.
    finished = subprocess.run(
        command, capture_output=True, text=True, check=False, cwd=out.parent, env=env
    )
    seconds = time.perf_counter() - started
    if finished.returncode != 0:
        last = finished.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise DlbenchError(f"bench perf: bench run {' '.join(options)} failed: {last[0]}")
    metrics, threads, choice, workers = {}, set(), "", 1
    for path in (out / "cells").glob("*.json"):
        record = json.loads(path.read_text())
        final, environment = record["final"], record["environment"]
        metrics[record["cell_id"]] = {key: final[key] for key in COMPARED if key in final}
        threads.add(int(environment["threads"]))
        workers = max(workers, int(environment.get("jobs", 1)))
        choice = choice or environment.get("jobs_choice", "")
    if workers == 1 and "worker(s)" in choice:
        choice += " (no worker started)"
    return TimedRun(seconds, metrics, choice, frozenset(threads))


def largest_difference(run: TimedRun, reference: TimedRun) -> float:
    """The largest difference of any compared metric between two runs of the same matrix;
    infinite when they hold different cells."""
    if set(run.metrics) != set(reference.metrics):
        return math.inf
    return max(
        (
            abs(value - reference.metrics[cell][key])
            for cell, values in run.metrics.items()
            for key, value in values.items()
        ),
        default=0.0,
    )


def jobs_rows(
    matrices: Sequence[tuple[str, Path, Sequence[str]]], threads: int, device: str, rounds: int
) -> list[list[str]]:
    """For each ``(label, matrix file, options)``: median wall seconds of ``--jobs 1`` (``threads``
    threads), ``--jobs 2`` (half each) and the default, over ``rounds`` rounds that alternate
    the settings, and whether the default's results equal those of ``--jobs 1`` with the same
    threads per cell."""
    settings = {
        "--jobs 1": ["--jobs", "1", "--threads", str(threads)],
        "--jobs 2": ["--jobs", "2", "--threads", str(max(1, threads // 2))],
        "default": [],
    }
    rows = []
    with tempfile.TemporaryDirectory(prefix="perf-jobs-") as folder:
        for index, (label, matrix, extra) in enumerate(matrices):
            runs: dict[str, list[TimedRun]] = {name: [] for name in settings}
            for round_ in range(rounds):
                for name, options in settings.items():
                    out = Path(folder) / f"m{index}-{round_}-{name.replace(' ', '')}"
                    given = [*options, *extra, "--device", device]
                    runs[name].append(bench_run(matrix, out, given))
            seconds = {
                name: statistics.median(r.seconds for r in found) for name, found in runs.items()
            }
            best = min(seconds["--jobs 1"], seconds["--jobs 2"])
            reference = _same_threads_as(
                runs["default"][0], runs, matrix, Path(folder), [*extra, "--device", device]
            )
            difference = max(largest_difference(r, reference) for r in runs["default"])
            same = "yes" if difference <= TOLERANCE else f"NO (differs by {difference:.2g})"
            rows.append(
                [
                    label,
                    f"{seconds['--jobs 1']:.1f}",
                    f"{seconds['--jobs 2']:.1f}",
                    f"{seconds['default']:.1f}",
                    f"{seconds['default'] / best:.2f}x",
                    same,
                    _chosen(runs["default"][0]),
                ]
            )
    return rows


def _same_threads_as(
    default: TimedRun,
    runs: dict[str, list[TimedRun]],
    matrix: Path,
    folder: Path,
    options: Sequence[str],
) -> TimedRun:
    """A ``--jobs 1`` run whose cells trained with the threads the default gave each cell: the
    timed one where those were its threads, else one made now (untimed)."""
    if runs["--jobs 1"][0].threads == default.threads:
        return runs["--jobs 1"][0]
    threads = str(max(default.threads, default=1))
    out = folder / f"{matrix.stem}-same-threads-{len(list(folder.iterdir()))}"
    return bench_run(matrix, out, ["--jobs", "1", "--threads", threads, *options])


def _chosen(run: TimedRun) -> str:
    """``2 worker(s) of 1 thread(s)`` from the recorded choice, or ``this process, 1 thread(s)``
    where ``auto`` found the work too small to start workers."""
    chosen = run.choice.partition(" (")[0].partition(": ")[2]
    if run.choice.endswith("(no worker started)"):
        return "this process, " + chosen.partition(" of ")[2]
    return chosen


def grid_lines(root: Path, images: int, said: str, device: str) -> list[str]:
    """The lab's MNIST grid timed end to end: the lab-style loop with one seed, ``bench run``
    with 3 and with 5 seeds under ``--jobs auto``."""
    with tempfile.TemporaryDirectory(prefix="perf-grid-") as work:
        started = time.perf_counter()
        finished = subprocess.run(
            [sys.executable, "-m", "dlbench.bench.perf.lab_grid", str(root), str(GRID_EPOCHS)],
            capture_output=True,
            text=True,
            check=False,
            cwd=work,
        )
        lab = time.perf_counter() - started
        if finished.returncode != 0:
            last = finished.stderr.strip().splitlines()[-1:] or ["(no output)"]
            raise DlbenchError(f"bench perf: the lab-style grid failed: {last[0]}")
        timed = {}
        for seeds in (3, 5):
            matrix = Path(work) / f"grid{seeds}.yaml"
            matrix.write_text(MATRIX.format(epochs=GRID_EPOCHS, seeds=list(range(seeds))))
            options = ["--data-root", str(root), "--no-download", "--device", device]
            timed[seeds] = bench_run(matrix, Path(work) / f"seeds{seeds}", options)
    choice = _chosen(timed[3])
    return [
        f"The lab's MNIST grid (Exercises 1.1 and 1.2: {len(GRID)} configurations), "
        f"{GRID_EPOCHS} epochs of {said}",
        f"({int(images * 0.8):,} to train on), timed end to end, process start included:",
        f"  lab-style loop, 1 seed:          {lab:7.1f} s",
        *(
            f"  bench run, {seeds} seeds (jobs auto):  {run.seconds:7.1f} s "
            f"({run.seconds / lab:.2f}x)"
            for seeds, run in timed.items()
        ),
        f"  jobs auto chose {choice}",
    ]


def matrix_section(
    catalog: Catalog,
    budget: float,
    threads: int,
    device: str,
    rounds: int,
    matrices: Sequence[Path] = (),
    data_root: Path | None = None,
) -> None:
    """Print the three comparisons: ``matrices`` timed beside the digits grid, the decided
    comparison, and the lab grid, on real MNIST where ``data_root`` holds it."""
    print(f"\nMatrices end to end (wall seconds, median of {rounds} round(s)):\n")
    with tempfile.TemporaryDirectory(prefix="perf-digits-") as folder:
        digits = Path(folder) / "digits-grid.yaml"
        digits.write_text(DIGITS_GRID)
        given = [(str(path), path.resolve(), ()) for path in matrices]
        rows = jobs_rows(
            [("digits, Exercises 1.1 and 1.2, 3 seeds", digits, ()), *given],
            threads,
            device,
            rounds,
        )
        root, images, said = mnist_data(catalog, budget, device, Path(folder), data_root)
        decided = Path(folder) / "decided.yaml"
        decided.write_text(DECIDED.format(epochs=GRID_EPOCHS))
        # One round: its cells are long, and their waves are what is timed.
        rows += jobs_rows(
            [
                (
                    "decided: residual vs plain depth-10 MLPs, 2 waves of 2 runs a side",
                    decided,
                    ["--data-root", str(root), "--no-download"],
                )
            ],
            threads,
            device,
            1,
        )
        header = ["matrix", "--jobs 1", "--jobs 2", "default", "default / best", "same results"]
        print(markdown(rows, [*header, "default chose"]))
        print(
            "\nsame results: every cell's metrics equal (within 1e-4) to those of --jobs 1 with "
            "the threads per cell the default chose; with other threads, float sums are added in "
            f"another order and runs differ as seeds do. The decided row: {GRID_EPOCHS} epochs "
            f"of {said}, one round."
        )
        print("\n" + "\n".join(grid_lines(root, images, said, device)))
