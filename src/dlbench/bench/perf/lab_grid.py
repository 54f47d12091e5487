"""The lab's MNIST grid (Exercises 1.1 and 1.2) trained as the lab's scripts train it, for
``bench perf --matrix-section`` to time end to end against ``bench run``.

Run as ``python -m dlbench.bench.perf.lab_grid DATA_ROOT EPOCHS``: one process, one seed, the
eight configurations one after another, each with torchvision's ``MNIST`` dataset (a PIL image and
``ToTensor`` + ``Normalize`` per sample), an 80/20 ``random_split``, shuffling ``DataLoader``\\ s of
batch 64, Adam at 1e-3, validation accuracy after every epoch and test accuracy at the end.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, random_split

#: Exercises 1.1 and 1.2: (model, depth); the plain MLPs of 1.2 are those of 1.1.
GRID = (
    *(("mlp", depth) for depth in (2, 4, 6, 8, 10)),
    *(("residual_mlp", depth) for depth in (6, 8, 10)),
)
HIDDEN, BATCH_SIZE, LR, VAL_FRACTION = 512, 64, 1e-3, 0.2

#: The same grid for ``bench run`` (``{epochs}`` and ``{seeds}`` filled in).
MATRIX = """\
name: perf_lab_grid
defaults:
  dataset: {{name: mnist, val_fraction: 0.2, split_seed: 0}}
  strategy: {{name: plain, optimizer: adam, lr: 0.001, batch_size: 64, epochs: {epochs}}}
  seeds: {seeds}
experiments:
  ex1_1_mlp_depth:
    model: {{name: mlp, hidden: 512, depth: [2, 4, 6, 8, 10]}}
  ex1_2_residual_mlp:
    model: {{name: [mlp, residual_mlp], hidden: 512, depth: [6, 8, 10]}}
"""


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` (uint8) in the IDX format MNIST ships in."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += b"".join(struct.pack(">I", size) for size in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(root: Path, train: int, test: int, seed: int = 0) -> Path:
    """MNIST-shaped random images in ``root/MNIST/raw`` (torchvision's layout): ``train`` and
    ``test`` images of 28x28 with labels 0-9. Returns ``root``."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, count in (("train", train), ("t10k", test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (count, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, count))
    return root


def lab_model(name: str, depth: int) -> nn.Module:
    """The catalog's model ``name`` of ``depth`` (the architecture both sides train)."""
    from dlbench.bench.host import load_catalog

    spec = load_catalog().models.get(name)
    params = {key: param.default for key, param in spec.params.items()}
    return spec.build((1, 28, 28), 10, **{**params, "depth": depth, "hidden": HIDDEN})


def accuracy(model: nn.Module, loader: DataLoader) -> float:
    """The lab's evaluation: eval mode, no gradients, batch by batch."""
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for inputs, targets in loader:
            correct += int((model(inputs).argmax(dim=1) == targets).sum())
            total += len(targets)
    return correct / max(total, 1)


def train_configuration(
    name: str, depth: int, train: Dataset, val: Dataset, test: Dataset, epochs: int
) -> tuple[float, float]:
    """One configuration as the lab's script trains it: validation accuracy of the last epoch
    and test accuracy."""
    torch.manual_seed(0)
    model = lab_model(name, depth)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    train_loader = DataLoader(train, batch_size=BATCH_SIZE, shuffle=True)
    val_loader = DataLoader(val, batch_size=BATCH_SIZE)
    val_accuracy = 0.0
    for _ in range(epochs):
        model.train()
        for inputs, targets in train_loader:
            loss = F.cross_entropy(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        val_accuracy = accuracy(model, val_loader)
    return val_accuracy, accuracy(model, DataLoader(test, batch_size=BATCH_SIZE))


def main(argv: list[str]) -> int:
    """Train the grid from MNIST in ``argv[0]`` for ``argv[1]`` epochs; print one line each."""
    from torchvision import datasets, transforms

    root, epochs = argv[0], int(argv[1])
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
    )
    full = datasets.MNIST(root, train=True, download=False, transform=transform)
    test = datasets.MNIST(root, train=False, download=False, transform=transform)
    val_size = int(len(full) * VAL_FRACTION)
    train, val = random_split(
        full, [len(full) - val_size, val_size], generator=torch.Generator().manual_seed(0)
    )
    for name, depth in GRID:
        val_accuracy, test_accuracy = train_configuration(name, depth, train, val, test, epochs)
        print(f"{name} depth {depth}: val {val_accuracy:.4f} test {test_accuracy:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
