"""Merging results directories: artifacts verified, experiments matched, no half-merged output."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import SMALL, one_line_error


@pytest.fixture
def produced(bench, write_matrix, tmp_path) -> Path:
    out = tmp_path / "produced"
    assert bench("run", "--matrix", write_matrix(PRODUCER), "--out", out).code == 0
    return out


PRODUCER = """\
name: produced
defaults:
  dataset: {name: digits, train_subset: 64}
  model: {name: mlp, hidden: 8}
experiments:
  teacher:
    strategy: {name: plain, epochs: 1}
  student:
    strategy: {name: distill, teacher: {from: teacher}, epochs: 1}
    tables:
      - {rows: model.name, metric: val_acc}
"""


def test_a_merge_copies_no_artifact_that_links_out_or_changed(bench, produced, tmp_path) -> None:
    (artifact,) = (produced / "artifacts").glob("*.pt")
    secret = tmp_path / "secret.pt"
    secret.write_bytes(b"not the checkpoint: a file outside the results directory")
    artifact.unlink()
    artifact.symlink_to(secret)
    merged = tmp_path / "merged"
    result = bench("report", produced, produced, "--out", merged)
    assert result.code == 1 and "Traceback" not in result.err
    assert f"artifact artifacts/{artifact.name} not merged" in result.err
    assert not (merged / "artifacts" / artifact.name).exists()
    assert secret.read_bytes() not in b"".join(p.read_bytes() for p in merged.rglob("*.pt"))


def test_a_merge_refuses_a_damaged_artifact(bench, produced, tmp_path) -> None:
    (artifact,) = (produced / "artifacts").glob("*.pt")
    data = bytearray(artifact.read_bytes())
    data[-1] ^= 1
    artifact.write_bytes(bytes(data))
    result = bench("report", produced, produced, "--out", tmp_path / "merged")
    assert result.code == 1 and "damaged" in result.err and "not merged" in result.err


def test_merging_runs_whose_experiments_differ_is_refused(
    bench, write_matrix, small_run, tmp_path
) -> None:
    _, out = small_run
    other = tmp_path / "other"
    text = SMALL.replace("metric: val_acc", "metric: test_acc")
    assert bench("run", "--matrix", write_matrix(text, "other.yaml"), "--out", other).code == 0
    line = one_line_error(bench("report", out, other, "--out", tmp_path / "merged"))
    assert "experiment 'e': its tables differ" in line
    assert not (tmp_path / "merged").exists()


def test_an_interrupted_merge_leaves_no_half_merged_out(bench, small_run, tmp_path, monkeypatch):
    _, out = small_run
    merged = tmp_path / "merged"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("dlbench.bench.results.merge._write", interrupted)
    assert bench("report", out, out, "--out", merged).code == 130
    assert not merged.exists()
    assert not list(tmp_path.glob(".merged.merging-*"))
    # A merge killed outright (no chance to clean up) leaves its folder, which the next removes.
    leftover = tmp_path / ".merged.merging-abc123"
    leftover.mkdir()
    (leftover / ".dlbench-merge").write_text("")
    monkeypatch.undo()
    result = bench("report", out, out, "--out", merged)
    assert result.code == 0, result.err
    assert f"removed {leftover}, left by an interrupted merge" in result.err
    assert not leftover.exists() and (merged / "report.md").is_file()
