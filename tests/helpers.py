"""Helpers shared by the tests: paths, and small data written in each dataset's own format."""

from __future__ import annotations

import json
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from dlbench import DatasetSplits, Normalization, Split, make_splits
from dlbench.bench.perf.lab_grid import write_idx

REPO = Path(__file__).resolve().parents[1]
#: A two-cell matrix of tiny MLPs on the embedded digits: quick to run, for tests of what a run
#: does around its cells.
SMALL = """\
name: small
defaults:
  dataset: {name: digits, train_subset: 64}
  strategy: {name: plain, epochs: 1}
experiments:
  e:
    model: {name: mlp, hidden: 8, depth: [2, 3]}
    tables:
      - {rows: model.depth, metric: val_acc}
"""
#: The installed ``bench`` console script, for tests that run it as a separate process (started
#: from anywhere, it runs the installed package, which is what the tests check).
BENCH = str(Path(sys.executable).with_name("bench"))


def start_bench(
    matrix: Path, out: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """``bench run`` as a separate process in its own session (so that signals reach it as they
    would from a terminal), its standard error kept."""
    return subprocess.Popen(
        [BENCH, "run", "--matrix", str(matrix), "--out", str(out), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=env,
        preexec_fn=_as_a_foreground_job,
    )


def _as_a_foreground_job() -> None:
    """Ctrl-C handled as in a terminal's foreground job, even where the tests themselves run in
    the background (a shell starts background jobs with SIGINT ignored, and children inherit it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


SHARED_DATA = REPO.parent / "shared" / "data"


def write_mnist(root: Path, train: int = 50, test: int = 20) -> Path:
    """Tiny MNIST in ``root/MNIST/raw``: images whose pixels encode their label."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, count in (("train", train), ("t10k", test)):
        labels = rng.integers(0, 10, count).astype(np.uint8)
        images = rng.integers(0, 30, (count, 28, 28)).astype(np.uint8)
        images[:, 0, 0] = labels * 20
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root


PER_BATCH = 20


def write_cifar(root: Path, classes: int) -> Path:
    """A tiny CIFAR-10 (5 x 20 training images) or CIFAR-100 in the pickled-batch layout.

    Each image's red channel at (0, 0) encodes its label, so tests can follow examples through
    the loader and the split.
    """
    rng = np.random.default_rng(classes)

    def batch(count: int, label_key: str) -> dict:
        labels = rng.integers(0, classes, count)
        data = rng.integers(0, 256, (count, 3 * 32 * 32), dtype=np.uint8)
        data[:, 0] = labels * (255 // classes)
        return {"data": data, label_key: labels.tolist()}

    if classes == 10:
        folder = root / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        for index in range(1, 6):
            (folder / f"data_batch_{index}").write_bytes(pickle.dumps(batch(PER_BATCH, "labels")))
        (folder / "test_batch").write_bytes(pickle.dumps(batch(PER_BATCH, "labels")))
        names = {"label_names": [f"class{i}" for i in range(10)]}
        (folder / "batches.meta").write_bytes(pickle.dumps(names))
    else:
        folder = root / "cifar-100-python"
        folder.mkdir(parents=True)
        (folder / "train").write_bytes(pickle.dumps(batch(5 * PER_BATCH, "fine_labels")))
        (folder / "test").write_bytes(pickle.dumps(batch(PER_BATCH, "fine_labels")))
        names = {"fine_label_names": [f"class{i}" for i in range(100)]}
        (folder / "meta").write_bytes(pickle.dumps(names))
    return root


def toy_splits(n: int = 256, with_test: bool = True) -> DatasetSplits:
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(n, 2, generator=generator)
    targets = (inputs[:, 0] + inputs[:, 1] > 0).long()
    full = Split(inputs, targets)
    test = Split(inputs[:64], targets[:64]) if with_test else None
    splits = make_splits(
        full, test, scale=1.0, num_classes=2, params={"val_fraction": 0.25, "split_seed": 0}
    )
    return DatasetSplits(
        splits.train, splits.val, splits.test, 2, Normalization(1.0, (0.0,), (1.0,))
    )


def one_line_error(result, code: int = 2) -> str:
    """The one error line a failed command ends with (after any progress lines)."""
    assert result.code == code, result.err
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert lines[-1].startswith("bench: error: "), result.err
    assert sum(line.startswith("bench: error") for line in lines) == 1, result.err
    return lines[-1]


def records(out: Path) -> dict[str, dict]:
    """The stored records of a results directory, by cell id, in file-name order."""
    return {p.stem: json.loads(p.read_text()) for p in sorted((out / "cells").glob("*.json"))}


def list_records(out: Path) -> list[dict]:
    """The stored records of a results directory, in file-name order."""
    return list(records(out).values())


def snapshot(out: Path) -> dict[str, bytes]:
    """Every stored file's bytes (records and artifacts), to show none changed."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for folder in ("cells", "artifacts")
        for p in (out / folder).rglob("*")
        if p.is_file()
    }
