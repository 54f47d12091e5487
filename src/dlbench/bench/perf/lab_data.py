"""The data and matrices of the matrix section's lab timings: the lab's depth-10 question as a
decided comparison, and MNIST: real from --data-root at its real size where it is there, else
MNIST-shaped random images sized to the budget."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dlbench.bench.perf.cases import builder, mlp_case, synthetic
from dlbench.bench.perf.lab_grid import GRID, write_mnist
from dlbench.bench.perf.reference import reference_speed
from dlbench.registry.catalog import Catalog

#: Epochs of every side of the lab grid's timing (the lab trains 10; the ratio is per epoch).
GRID_EPOCHS = 2
#: Training images of the lab grid's MNIST-shaped data: at least (fixed costs would dominate),
#: at most (MNIST's own size).
GRID_IMAGES = (6_000, 60_000)
#: The lab's depth-10 question decided in two waves of 2 runs a side (``{epochs}`` filled in):
#: the sign rule cannot decide on 2 pairs, so both waves always run.
DECIDED = """\
name: perf_decided
defaults:
  dataset: {{name: mnist, val_fraction: 0.2}}
  strategy: {{name: plain, optimizer: adam, lr: 0.001, batch_size: 64, epochs: {epochs}}}
  vary: [init, order, split]
experiments:
  depth10:
    model: {{name: [mlp, residual_mlp], hidden: 512, depth: 10}}
    tables:
      - rows: model.depth
        columns: model.name
        metric: test_acc
        derived:
          - title: Residual - plain
            diff: [residual_mlp, mlp]
            decide: {{min_runs: 2, max_runs: 4, wave: 2}}
"""


#: Where torchvision's MNIST keeps its training images, below a data root.
REAL_MNIST = Path("MNIST") / "raw" / "train-images-idx3-ubyte"


def grid_images(catalog: Catalog, budget: float, device: str) -> int:
    """Training images for the lab grid's timing so that all three of its runs fit ``budget``
    seconds, from the lab-style loop's speed on the grid's middle configuration measured here
    (and a dlbench seed costing a third of a lab-style one: 1 + 3/3 + 5/3 lab-style runs)."""
    case = replace(
        mlp_case(catalog, 6, 1_024),
        build=builder(catalog, "mlp", (1, 28, 28), depth=6, hidden=512),
        device=device,
    )
    inputs, labels = synthetic(case, case.images)
    speed = reference_speed(case, inputs, labels)
    # Per lab-style run: every configuration trains 80% of the images for each epoch.
    per_image = len(GRID) * GRID_EPOCHS * (1 - 0.2) / speed
    images = budget / (1 + 3 / 3 + 5 / 3) / per_image
    return int(min(max(images, GRID_IMAGES[0]), GRID_IMAGES[1]))


def mnist_data(
    catalog: Catalog, budget: float, device: str, folder: Path, data_root: Path | None
) -> tuple[Path, int, str]:
    """Where the lab's MNIST data for the timing lies, its training images and a line saying
    what it is: real MNIST from ``data_root`` at its real size where it is there, else
    MNIST-shaped random images sized to ``budget`` (written into ``folder``)."""
    if data_root is not None and (data_root / REAL_MNIST).is_file():
        return data_root, GRID_IMAGES[1], f"real MNIST from {data_root} (60,000 images)"
    images = grid_images(catalog, budget, device)
    where = f"under {data_root}" if data_root is not None else "(no --data-root)"
    said = (
        f"{images:,} MNIST-shaped random images standing in for MNIST, sized to --budget "
        f"{budget:g} s (real MNIST not found {where}; give --data-root for the real size)"
    )
    return write_mnist(folder / "data", images, images // 6), images, said
