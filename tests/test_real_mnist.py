"""Checks on the real MNIST copy beside the checkout; skipped with a message where it is absent."""

from __future__ import annotations

import json

from helpers import REPO


def test_depth2_mlp_one_epoch_on_real_mnist(bench, shared_mnist, tmp_path) -> None:
    out = tmp_path / "lab"
    result = bench(
        "run",
        "--matrix",
        REPO / "exercises.yaml",
        "--out",
        out,
        "--data-root",
        shared_mnist,
        "--no-download",
        "--only",
        "ex1_1*",
        "--set",
        "model.depth=2",
        "--set",
        "strategy.epochs=1",
    )
    assert result.code == 0, result.err
    (record_path,) = (out / "cells").glob("*.json")
    record = json.loads(record_path.read_text())
    assert record["cell"]["model"]["params"]["depth"] == 2
    assert len(record["epochs"]) == 1
    assert record["final"]["val_acc@best"] >= 0.96
    assert record["final"]["test_acc@best"] >= 0.95
