"""Hostile input, crashes and interruptions: nothing finished is lost, every mistake is one line."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from helpers import (
    BENCH,
    SMALL,
    list_records,
    records,
)
from inline_plugins import EDITED_MATRIX, HELPED_MATRIX, MODEL_PLUGIN, failing_strategy
from matrix_cases import BAD_MATRICES, BAD_REFERENCES

from dlbench import StrategySpec, hookimpl
from dlbench.bench.matrix import load_matrix
from dlbench.bench.results.store import ResultStore
from dlbench.bench.run.progress import LineProgress
from dlbench.bench.run.runner import run_matrix
from dlbench.bench.run.services import RunSettings
from dlbench.engine.optim import TRAINING_PARAMS

CORPUS = {
    **{f"matrix-{case}": text for case, (text, _line, _pattern) in BAD_MATRICES.items()},
    **{f"reference-{case}": text for case, (text, _pattern) in BAD_REFERENCES.items()},
    "binary-garbage": "\x00\x01\x02 \xff",
    "tabs": "name: m\n\texperiments: {}\n",
    "list-of-experiments": "name: m\nexperiments: [a, b]\n",
    "huge-depth-axis": "name: m\ndefaults: {dataset: digits, strategy: plain}\n"
    "experiments:\n  e:\n    model: {name: mlp, depth: [2, -1]}\n",
}


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("case", list(CORPUS), ids=list(CORPUS))
def test_each_bad_matrix_exits_2_with_one_line_and_no_traceback(case, bench, tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CORPUS[case], encoding="utf-8", errors="surrogateescape")
    result = bench("run", "--matrix", path, "--out", tmp_path / "out")
    assert result.code == 2, result.err
    assert result.err.count("\n") == 1, result.err
    assert result.err.startswith("bench: error: ")
    assert "Traceback" not in result.err
    assert str(path) in result.err or "--set" in result.err
    assert not (tmp_path / "out").exists()


def test_unreadable_matrix_paths(bench, tmp_path) -> None:
    for target, message in (
        (tmp_path, "is a directory"),
        (tmp_path / "missing.yaml", "no such file"),
    ):
        result = bench("run", "--matrix", target)
        assert result.code == 2 and message in result.err and result.err.count("\n") == 1


def test_debug_shows_the_traceback(bench, tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: m\nexperiments: {e: {model: mlpp, dataset: digits, strategy: plain}}\n")
    with pytest.raises(Exception, match="unknown model"):
        bench("--debug", "run", "--matrix", path)


SIX_CELLS = """\
name: small
defaults:
  dataset: {name: digits, train_subset: 200}
  strategy: {name: plain, epochs: 4, batch_size: 32}
experiments:
  e:
    model: {name: mlp, hidden: 16, depth: [2, 3, 4]}
    seeds: [0, 1]
    tables:
      - {rows: model.depth, metric: val_acc}
      - {rows: model.depth, metric: val_loss, at: last}
"""


def test_diverging_cell_fails_and_the_matrix_goes_on(bench, write_matrix, tmp_path) -> None:
    text = SIX_CELLS.replace(
        "depth: [2, 3, 4]}",
        "depth: [2, 3]}\n    strategy: "
        "{name: plain, optimizer: sgd, lr: [0.01, 1.0e+12], epochs: 2}",
    )
    text = text.replace(
        "{rows: model.depth, metric: val_acc}",
        "{rows: model.depth, columns: strategy.lr, metric: val_acc}",
    )
    text = text.replace("      - {rows: model.depth, metric: val_loss, at: last}\n", "")
    result = bench("run", "--matrix", write_matrix(text), "--out", tmp_path / "o")
    assert result.code == 1
    assert "diverged at epoch 1" in result.out
    assert "8 cells, 4 done, 4 failed" in result.out


def test_out_of_memory_fails_the_cell_and_the_matrix_goes_on(
    make_catalog, write_matrix, tmp_path
) -> None:
    def run_oom(cell, context):
        if cell.model.params["depth"] == 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return run_plain(cell, context)

    from dlbench.plugins.strategies.plain import run_plain

    class OomPlugin:
        @hookimpl
        def dlbench_register_strategies(self, register):
            register(
                StrategySpec(
                    name="oom",
                    run=run_oom,
                    description="runs out of memory at depth 3",
                    params=TRAINING_PARAMS,
                )
            )

    catalog = make_catalog(oom=OomPlugin())
    text = (
        SIX_CELLS.replace("{name: plain, epochs: 4, batch_size: 32}", "{name: oom, epochs: 1}")
        .replace("      - {rows: model.depth, metric: val_loss, at: last}\n", "")
        .replace("      - {rows: model.depth, metric: val_acc}\n", "")
    )
    matrix = load_matrix(write_matrix(text), catalog)
    store = ResultStore.open(tmp_path / "o", matrix.name)
    settings = RunSettings(torch.device("cpu"), tmp_path, download=False, threads=1)
    summary = run_matrix(matrix, store, catalog, settings, LineProgress(io.StringIO()))
    assert summary.ran == 6
    assert [r.error.split(":")[0] for r in summary.failed] == ["OutOfMemoryError"] * 2


def _bench_process(matrix: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            BENCH,
            "run",
            "--matrix",
            str(matrix),
            "--out",
            str(out),
            "--threads",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _finished(out: Path) -> dict[str, str]:
    found = {}
    for path in (out / "cells").glob("*.json"):
        record = json.loads(path.read_text())
        if record["status"] == "ok":
            found[record["cell_id"]] = record["finished_at"] + json.dumps(record["epochs"])
    return found


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_and_redoes_nothing(write_matrix, tmp_path) -> None:
    # Cells of about half a second, so that kills land inside them.
    matrix = write_matrix(
        SIX_CELLS.replace("{name: digits, train_subset: 200}", "digits")
        .replace("epochs: 4", "epochs: 12")
        .replace("hidden: 16", "hidden: 128")
    )
    reference = tmp_path / "reference"
    assert _bench_process(matrix, reference).wait(timeout=300) == 0
    out = tmp_path / "killed"
    rng = random.Random(7)
    seen: dict[str, str] = {}
    for _ in range(3):
        process = _bench_process(matrix, out)
        # Wait until this run has finished a cell, then kill it at a random point of the next.
        deadline = time.monotonic() + 120
        while len(_finished(out)) <= len(seen) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.4))
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        now = _finished(out)
        # Every cell finished before a kill is still there, untouched.
        assert all(now.get(cell) == stamp for cell, stamp in seen.items())
        assert len(seen) < len(now) < 6
        seen = now
    assert _bench_process(matrix, out).wait(timeout=300) == 0
    final = _finished(out)
    assert all(final[cell] == stamp for cell, stamp in seen.items())
    assert len(final) == 6
    tables = [(d / "report.md").read_text().split("\n", 4)[4] for d in (reference, out)]
    assert tables[0] == tables[1]


def test_results_stay_inside_the_results_directory(bench, write_matrix, tmp_path) -> None:
    text = SIX_CELLS.replace("epochs: 4", "epochs: 1").replace(
        "{rows: model.depth, metric: val_acc}",
        "{title: ../../../escape, rows: model.depth, metric: val_acc}",
    )
    matrix = write_matrix(text)
    out = tmp_path / "o"
    assert bench("run", "--matrix", matrix, "--out", out).code == 0
    outside = [p for p in tmp_path.rglob("*") if p != matrix and out not in p.parents and p != out]
    assert outside == []


MEMORY = failing_strategy(
    "hungry",
    """
    if cell.model.params["depth"] == 2:
        hoard = [bytearray(10**6) for _ in range(50)]
        raise Exhausted()
    """,
    "runs out of memory",
    preamble="""
    class Exhausted(MemoryError):
        def __str__(self):
            raise MemoryError  # describing the failure runs out of memory too
    """,
)


BROKEN = """\
import dlbench


def run(cell, context):
    splits = context.load_dataset()
    model = context.build_model(splits)
    state = {}

    def transform(batch, generator):
        scale = state["grad_scale"]  # never set: the bug under test
        return batch

    hooks = dlbench.TrainingHooks(batch_transform=transform)
    return context.fit(model, splits, context.optimizer(model.parameters()), hooks=hooks)


@dlbench.hookimpl
def dlbench_register_strategies(register):
    register(dlbench.StrategySpec(
        name="broken", run=run, description="fails in a hook", params=dlbench.TRAINING_PARAMS
    ))
"""


def test_running_out_of_memory_is_recorded_and_the_matrix_goes_on(
    bench, install, write_matrix, tmp_path
) -> None:
    install("hungry", MEMORY)
    out = tmp_path / "o"
    text = SMALL.replace("{name: plain, epochs: 1}", "{name: hungry, epochs: 1}")
    result = bench("run", "--matrix", write_matrix(text), "--out", out)
    assert result.code == 1
    outcomes = sorted((r["status"], r["error"]) for r in records(out).values())
    assert [status for status, _ in outcomes] == ["failed", "ok"]
    assert outcomes[0][1].startswith("Exhausted: out of memory (plugin 'hungry', strategy run, ")


@pytest.mark.parametrize("logits", [16, 5])
def test_a_model_with_the_wrong_output_shape_fails_its_cell_in_one_line(
    bench, install, write_matrix, tmp_path, logits
) -> None:
    install("edited_plugin", MODEL_PLUGIN)
    path = write_matrix(EDITED_MATRIX.replace("name: edited}", f"name: edited, logits: {logits}}}"))
    out = tmp_path / "out"
    dry = bench("run", "--matrix", path, "--out", out, "--dry-run")
    assert "will fail" in dry.out and f"({logits}" not in dry.out
    assert f"output has shape (2, {logits}), expected (batch, classes) = (2, 10)" in dry.out
    result = bench("run", "--matrix", path, "--out", out)
    assert result.code == 1
    (record,) = list_records(out)
    assert record["status"] == "failed"
    assert record["error"] == (
        f"DlbenchError: model 'edited' on dataset 'digits': the model's output has shape "
        f"(2, {logits}), expected (batch, classes) = (2, 10)"
    )
    assert "failed" in (out / "report.md").read_text().split("## Failed cells")[0]


def test_a_failing_hook_is_named_with_its_plugin_stage_and_line(
    bench, install, write_matrix, tmp_path
) -> None:
    source = install("broken_plugin", BROKEN)
    line = next(i for i, text in enumerate(BROKEN.splitlines(), 1) if "grad_scale" in text)
    path = write_matrix(HELPED_MATRIX.replace("name: helped", "name: broken"))
    result = bench("run", "--matrix", path, "--out", tmp_path / "out")
    assert result.code == 1
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "out" / "cells").glob("*.json")]
    assert record["error"].startswith("KeyError: 'grad_scale' (plugin 'broken_plugin', ")
    assert f", batch transform, {source.resolve()}:{line})" in record["error"], record["error"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert f"broken_plugin.py:{line}" in report.split("## Failed cells")[1]
    assert "Traceback" not in result.err
    debug = bench("--debug", "run", "--matrix", path, "--out", tmp_path / "out2")
    assert "Traceback (most recent call last)" in debug.err
    assert f"line {line}, in transform" in debug.err


@pytest.mark.parametrize(
    ("body", "stage"),
    [("raise RuntimeError('no')", "model build"), ("return Exploding()", "forward")],
)
def test_a_failing_model_is_named_by_stage(
    bench, install, write_matrix, tmp_path, body, stage
) -> None:
    install(
        "bad_model",
        "import torch\nimport dlbench\n\n"
        "class Exploding(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        raise ValueError('boom')\n\n"
        f"def build(input_shape, num_classes, *, width):\n    {body}\n\n"
        "@dlbench.hookimpl\n"
        "def dlbench_register_models(register):\n"
        "    register(dlbench.ModelSpec(name='bad', build=build, description='fails',\n"
        "             params={'width': dlbench.Param(4, int, 'width', minimum=1)}))\n",
    )
    matrix = HELPED_MATRIX.replace("model: {name: mlp, hidden: 8, depth: 2}", "model: {name: bad}")
    matrix = matrix.replace("rows: model.depth", "rows: model.width")
    path = write_matrix(matrix.replace("name: helped, epochs: 1", "name: plain, epochs: 1"))
    result = bench("run", "--matrix", path, "--out", tmp_path / "out")
    assert result.code == 1, result.err
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "out" / "cells").glob("*.json")]
    assert f"(plugin 'bad_model', {stage}, " in record["error"], record["error"]


NAN_METRIC = """\
import dlbench


def run(cell, context):
    epochs = [{"epoch": 1, "train_loss": 0.5, "val_acc": float("nan")}]
    return dlbench.TrainingResult(epochs=epochs, final={"val_acc@best": float("nan")})


@dlbench.hookimpl
def dlbench_register_strategies(register):
    register(dlbench.StrategySpec(
        name="nan_metric", run=run, description="ends with a NaN", params=dlbench.TRAINING_PARAMS
    ))
"""


def test_a_run_whose_metrics_are_not_finite_is_stored_as_failed(
    bench, install, write_matrix, tmp_path
) -> None:
    install("nan_metric", NAN_METRIC)
    out = tmp_path / "o"
    text = SMALL.replace("{name: plain, epochs: 1}", "{name: nan_metric, epochs: 1}")
    result = bench("run", "--matrix", write_matrix(text), "--out", out)
    assert result.code == 1, result.err
    found = list_records(out)
    assert len(found) == 2 and all(r["status"] == "failed" for r in found)
    assert "final.val_acc@best: nan: metrics must be finite numbers" in found[0]["error"]
