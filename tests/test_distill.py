"""The distillation strategy: its loss, and cached vs online teacher outputs."""

from __future__ import annotations

import io
import json
import math

import pytest
import torch
import torch.nn.functional as F

import dlbench.plugins.strategies.distill as distill
from dlbench.bench.matrix import load_matrix
from dlbench.bench.results.store import ResultStore
from dlbench.bench.run.progress import LineProgress
from dlbench.bench.run.runner import run_matrix
from dlbench.bench.run.services import RunSettings
from dlbench.engine.losses import distillation_loss

STUDENT = torch.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
TEACHER = torch.tensor([[2.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
TARGETS = torch.tensor([1, 2])


def hand_kl(teacher: torch.Tensor, student: torch.Tensor, temperature: float) -> float:
    """KL(p_teacher || p_student) at temperature T, averaged over the batch, by hand."""
    total = 0.0
    for t_row, s_row in zip(teacher.tolist(), student.tolist(), strict=True):
        t_exp = [math.exp(v / temperature) for v in t_row]
        s_exp = [math.exp(v / temperature) for v in s_row]
        p = [v / sum(t_exp) for v in t_exp]
        q = [v / sum(s_exp) for v in s_exp]
        total += sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True))
    return total / len(teacher)


def test_alpha_zero_is_plain_cross_entropy() -> None:
    loss, parts = distillation_loss(STUDENT, TARGETS, TEACHER, temperature=4.0, alpha=0.0)
    assert loss.item() == pytest.approx(F.cross_entropy(STUDENT, TARGETS).item())
    assert parts["ce"].item() == pytest.approx(loss.item())


@pytest.mark.parametrize("temperature", [1.0, 2.0, 5.0])
@pytest.mark.parametrize("alpha", [0.3, 1.0])
def test_loss_matches_hand_computation_with_t_squared(temperature, alpha) -> None:
    loss, parts = distillation_loss(STUDENT, TARGETS, TEACHER, temperature, alpha)
    kl = hand_kl(TEACHER, STUDENT, temperature)
    ce = F.cross_entropy(STUDENT, TARGETS).item()
    assert parts["kl"].item() == pytest.approx(kl, rel=1e-5)
    assert loss.item() == pytest.approx((1 - alpha) * ce + alpha * temperature**2 * kl, rel=1e-5)


def test_identical_teacher_and_student_have_no_soft_loss() -> None:
    _, parts = distillation_loss(STUDENT, TARGETS, STUDENT, temperature=3.0, alpha=0.5)
    assert parts["kl"].item() == pytest.approx(0.0, abs=1e-7)


MATRIX = """\
name: kd
defaults:
  dataset: {name: digits, train_subset: 150}
experiments:
  teacher:
    model: {name: mlp, hidden: 32}
    strategy: {name: plain, epochs: 1}
  students:
    model: {name: mlp, hidden: 8}
    strategy:
      name: distill
      teacher: {from: teacher}
      epochs: 2
      alpha: [0.2, 0.8]
      temperature: [2.0, 4.0]
      mode: MODE
"""


def run(catalog, path, out):
    matrix = load_matrix(path, catalog)
    store = ResultStore.open(out, matrix.name)
    settings = RunSettings(torch.device("cpu"), out, download=False, threads=1)
    return run_matrix(matrix, store, catalog, settings, LineProgress(io.StringIO()))


def count_teacher_passes(monkeypatch) -> list[int]:
    """Sizes of the inputs the distill strategy runs the teacher over for caching."""
    sizes: list[int] = []
    real = distill.predict

    def counting(model, inputs, normalize, batch_size):
        sizes.append(len(inputs))
        return real(model, inputs, normalize, batch_size)

    monkeypatch.setattr(distill, "predict", counting)
    return sizes


def test_cached_mode_runs_the_teacher_once_for_all_students(
    catalog, write_matrix, tmp_path, monkeypatch
) -> None:
    sizes = count_teacher_passes(monkeypatch)
    path = write_matrix(MATRIX.replace("MODE", "cached"))
    summary = run(catalog, path, tmp_path / "out")
    assert summary.ran == 5 and not summary.failed
    train_size = 150
    assert sizes.count(train_size) == 1  # one pass over the training set, for four students
    assert len(list((tmp_path / "out" / "artifacts" / "cache").glob("*.pt"))) == 1
    # A new student on a rerun reuses the stored outputs too.
    grown = MATRIX.replace("MODE", "cached").replace("epochs: 2", "epochs: 3")
    run(catalog, write_matrix(grown), tmp_path / "out")
    assert sizes.count(train_size) == 1


def test_online_and_cached_give_the_same_loss_without_augmentation(
    catalog, write_matrix, tmp_path
) -> None:
    losses = {}
    for mode in ("cached", "online"):
        out = tmp_path / mode
        run(catalog, write_matrix(MATRIX.replace("MODE", mode)), out)
        for path in (out / "cells").glob("*.json"):
            record = json.loads(path.read_text())
            if record["cell"]["strategy"]["name"] == "distill":
                params = record["cell"]["strategy"]["params"]
                key = (params["alpha"], params["temperature"])
                losses.setdefault(key, {})[mode] = [
                    (e["train_loss"], e["train_ce"], e["train_kl"], e["val_acc"])
                    for e in record["epochs"]
                ]
    assert len(losses) == 4
    for by_mode in losses.values():
        online = [v for epoch in by_mode["online"] for v in epoch]
        cached = [v for epoch in by_mode["cached"] for v in epoch]
        assert online == pytest.approx(cached, rel=1e-4, abs=1e-6)


def test_teacher_with_another_class_count_fails_the_student(
    make_catalog, write_matrix, tmp_path
) -> None:
    from inline_plugins import ThreeClassDatasetPlugin

    catalog = make_catalog(blobs=ThreeClassDatasetPlugin())
    text = MATRIX.replace("MODE", "cached").replace(
        "    model: {name: mlp, hidden: 32}",
        "    model: {name: mlp, hidden: 32}\n    dataset: three_classes",
    )
    summary = run(catalog, write_matrix(text), tmp_path / "out")
    assert len(summary.failed) == 4
    assert "teacher predicts 3 classes but dataset 'digits' has 10" in summary.failed[0].error
