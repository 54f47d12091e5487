"""The CUDA paths, on a real GPU: training in fp32, bf16 and channels-last, records naming the
GPU, checkpoints moving between GPU and CPU, cached teacher outputs, workers placed on the GPU,
and running out of GPU memory failing one cell cleanly. Skipped, with a message, without CUDA
(``.ci/gpu-check`` runs them on a GPU machine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from inline_plugins import failing_strategy

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

MATRIX = """\
name: gpu
defaults:
  dataset: {name: digits, train_subset: 512}
  strategy: {name: plain, epochs: 3, batch_size: 64}
experiments:
  mlp:
    model: {name: mlp, hidden: 64}
    strategy: {name: plain, epochs: 3, precision: [fp32, bf16]}
  cnn:
    model: {name: residual_cnn, channels: [16, 32], blocks: 1}
    strategy: {name: plain, epochs: 3, precision: bf16, channels_last: [false, true]}
  student:
    model: {name: mlp, hidden: 16}
    strategy: {name: distill, teacher: {from: mlp, where: {strategy.precision: fp32}}, epochs: 2}
"""


def records(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "cells").glob("*.json"))]


def test_training_on_the_gpu_in_every_precision(bench, write_matrix, tmp_path) -> None:
    out = tmp_path / "o"
    result = bench("run", "--matrix", write_matrix(MATRIX), "--out", out, "--device", "cuda")
    assert result.code == 0, result.err
    found = records(out)
    assert len(found) == 5 and {r["status"] for r in found} == {"ok"}
    name = torch.cuda.get_device_name(0)
    for record in found:
        assert record["environment"]["device"].startswith("cuda")
        assert record["environment"]["device_name"] == name
        assert record["environment"]["capability"]["device"] == "cuda"
        assert all(torch.isfinite(torch.tensor(e["train_loss"])) for e in record["epochs"])
    again = tmp_path / "again"
    assert (
        bench("run", "--matrix", write_matrix(MATRIX), "--out", again, "--device", "cuda").code == 0
    )
    first = {r["cell_id"]: r["final"]["val_acc@best"] for r in found}
    second = {r["cell_id"]: r["final"]["val_acc@best"] for r in records(again)}
    for cell_id, accuracy in first.items():  # deterministic enough: cuDNN may reorder sums
        assert second[cell_id] == pytest.approx(accuracy, abs=0.02)


def test_a_checkpoint_saved_on_the_gpu_loads_on_the_cpu(bench, write_matrix, tmp_path) -> None:
    from dlbench.bench.run.checkpoints import read_checkpoint

    out = tmp_path / "o"
    assert (
        bench("run", "--matrix", write_matrix(MATRIX), "--out", out, "--device", "cuda").code == 0
    )
    (checkpoint,) = (out / "artifacts").glob("*.pt")
    data = read_checkpoint(checkpoint, torch.device("cpu"))
    assert all(t.device.type == "cpu" for t in data["state_dict"].values())
    student = next(r for r in records(out) if r["cell"]["strategy"]["name"] == "distill")
    assert student["status"] == "ok"  # fed by teacher outputs cached from the GPU
    assert list((out / "artifacts" / "cache").glob("*.pt"))


def test_workers_train_on_the_gpu(bench, write_matrix, tmp_path) -> None:
    out = tmp_path / "o"
    result = bench(
        "run", "--matrix", write_matrix(MATRIX), "--out", out, "--device", "cuda", "--jobs", "2"
    )
    assert result.code == 0, result.err
    assert {r["environment"]["jobs"] for r in records(out)} == {2}
    assert all(r["environment"]["device"].startswith("cuda") for r in records(out))


GREEDY = failing_strategy(
    "greedy",
    """
    if cell.seed == 0:
        torch.empty(2**45, device=context.device)  # far beyond any GPU
    """,
    "asks for too much",
)


def test_running_out_of_gpu_memory_fails_one_cell_and_the_next_runs(
    bench, install, write_matrix, tmp_path
) -> None:
    install("greedy", GREEDY)
    text = MATRIX.split("experiments:")[0] + (
        "experiments:\n  e:\n    model: {name: mlp, hidden: 16}\n"
        "    strategy: {name: greedy, epochs: 1}\n    seeds: [0, 1]\n"
    )
    out = tmp_path / "o"
    result = bench("run", "--matrix", write_matrix(text), "--out", out, "--device", "cuda")
    assert result.code == 1
    outcome = sorted((r["cell"]["seed"], r["status"]) for r in records(out))
    assert outcome == [(0, "failed"), (1, "ok")]
    failed = next(r for r in records(out) if r["status"] == "failed")
    assert failed["error"].startswith("OutOfMemoryError")


def test_perf_times_the_gpu(bench) -> None:
    result = bench(
        "perf", "--device", "cuda", "--no-cnn", "--scale", "0.05", "--rounds", "1", "--force"
    )
    assert result.code == 0, result.err
    assert "GPU" in result.out.splitlines()[0]
    assert [line for line in result.out.splitlines() if line.startswith("| MLP depth 2")]
