"""The whole of exercises.yaml, end to end, on tiny data written in the datasets' own formats."""

from __future__ import annotations

import json

from helpers import REPO, write_cifar, write_mnist

SMOKE = [
    "--set",
    "strategy.epochs=1",
    "--set",
    "dataset.train_subset=48",
    "--set",
    "model.channels=[4,8]",
    "--set",
    "model.hidden=16",
    "--no-download",
]


def test_exercises_yaml_runs_end_to_end_on_tiny_data(bench, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda *args: True)
    data = write_cifar(write_cifar(write_mnist(tmp_path / "data"), 10), 100)
    out = tmp_path / "lab"
    result = bench(
        "run", "--matrix", REPO / "exercises.yaml", "--out", out, "--data-root", data, *SMOKE
    )
    assert result.code == 0, result.err
    for heading in (
        "Exercise 1.1",
        "Exercise 1.2",
        "Exercise 1.3",
        "Teacher vs students",
        "Teacher and student",
        "Transfer: CIFAR-10 teacher to CIFAR-100",
    ):
        assert heading in result.out
    records = [json.loads(p.read_text()) for p in (out / "cells").glob("*.json")]
    assert len(records) == 8 + 6 + 1 + 1 + 2 + 1 + 3 + 2
    assert all(r["status"] == "ok" for r in records)
    assert (out / "plots" / "ex1_3_cnn-grad-norms.png").exists()
    again = bench(
        "run", "--matrix", REPO / "exercises.yaml", "--out", out, "--data-root", data, *SMOKE
    )
    assert "0 cell(s) to run, 24 already stored" in again.err
