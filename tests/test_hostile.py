"""Hostile or unlucky inputs: resource bombs, non-finite values, odd names, filesystem faults,
damaged stored files, signals. Each ends in one line and an exit code, and nothing stored is
lost or written outside the results directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from helpers import BENCH, SMALL, start_bench


def one_line_error(result, code: int = 2) -> str:
    """The one error line a failed command ends with (after any progress lines)."""
    assert result.code == code, result.err
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert lines[-1].startswith("bench: error: "), result.err
    assert sum(line.startswith("bench: error") for line in lines) == 1, result.err
    return lines[-1]


def records(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (out / "cells").glob("*.json")}


def snapshot(out: Path) -> dict[str, bytes]:
    """Every stored file's bytes (records and artifacts), to show none changed."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for folder in ("cells", "artifacts")
        for p in (out / folder).rglob("*")
        if p.is_file()
    }


# -- data loss first --------------------------------------------------------------------------

FLAKY = """\
from pathlib import Path

import dlbench


def run(cell, context):
    if Path(cell.strategy.params["switch"]).exists():
        raise RuntimeError("the data is no longer reachable")
    splits = context.load_dataset()
    model = context.build_model(splits)
    return context.fit(model, splits, context.optimizer(model.parameters()))


@dlbench.hookimpl
def dlbench_register_strategies(register):
    params = {**dlbench.TRAINING_PARAMS, "switch": dlbench.Param("", str, "fail if it exists")}
    register(dlbench.StrategySpec(
        name="flaky", run=run, description="fails while a file exists", params=params
    ))
"""


@pytest.mark.parametrize("rerun", ["--force", "probe added"])
def test_a_failed_rerun_never_replaces_a_finished_record(
    bench, install, write_matrix, tmp_path, rerun
) -> None:
    install("flaky", FLAKY)
    switch = tmp_path / "fail-now"
    text = SMALL.replace(
        "{name: plain, epochs: 1}", f"{{name: flaky, epochs: 1, switch: {switch}}}"
    )
    out = tmp_path / "o"
    assert bench("run", "--matrix", write_matrix(text), "--out", out).code == 0
    before = snapshot(out)
    table = (out / "report.md").read_text().split("Depth  |")[1].split("*")[0]
    switch.touch()
    if rerun == "--force":
        result = bench("run", "--matrix", write_matrix(text), "--out", out, "--force")
    else:
        probed = text.replace("    tables:", "    probes: {grad_norms: {steps: [1]}}\n    tables:")
        result = bench("run", "--matrix", write_matrix(probed), "--out", out)
    assert result.code == 1
    assert "2 failed rerun(s) kept the earlier result" in result.err
    assert snapshot(out) == before  # the finished records, untouched
    report = (out / "report.md").read_text()
    assert report.split("Depth  |")[1].split("*")[0] == table  # the numbers are still shown
    assert "## Reruns that failed (the earlier finished result is kept and shown)" in report
    assert "the data is no longer reachable" in report
    assert len(list((out / "attempts").glob("*.json"))) == 2
    switch.unlink()
    assert bench("run", "--matrix", write_matrix(text), "--out", out, "--force").code == 0
    assert not list((out / "attempts").glob("*.json"))


OBSERVER = """\
import dlbench

dlbench_required = {required}


@dlbench.hookimpl
def dlbench_{hook}({arguments}):
    raise RuntimeError("observer is broken")
"""


def test_an_observer_that_raises_costs_no_cell(bench, install, write_matrix, tmp_path) -> None:
    install("observer", OBSERVER.format(required=False, hook="cell_end", arguments="cell, record"))
    out = tmp_path / "o"
    result = bench("run", "--matrix", write_matrix(SMALL), "--out", out)
    assert result.code == 0
    assert result.err.count("plugin 'observer' failed in dlbench_cell_end") == 1
    assert {r["status"] for r in records(out).values()} == {"ok"}
    again = bench("run", "--matrix", write_matrix(SMALL), "--out", out)
    assert again.code == 0 and "0 cell(s) to run" in again.err


def test_a_required_observer_that_raises_fails_the_cell(
    bench, install, write_matrix, tmp_path
) -> None:
    install("observer", OBSERVER.format(required=True, hook="cell_start", arguments="cell"))
    out = tmp_path / "o"
    result = bench("run", "--matrix", write_matrix(SMALL), "--out", out)
    assert result.code == 1
    assert all("observer is broken" in r["error"] for r in records(out).values())


MEMORY = """\
import dlbench


class Exhausted(MemoryError):
    def __str__(self):
        raise MemoryError  # describing the failure runs out of memory too


def run(cell, context):
    if cell.model.params["depth"] == 2:
        hoard = [bytearray(10**6) for _ in range(50)]
        raise Exhausted()
    splits = context.load_dataset()
    model = context.build_model(splits)
    return context.fit(model, splits, context.optimizer(model.parameters()))


@dlbench.hookimpl
def dlbench_register_strategies(register):
    register(dlbench.StrategySpec(
        name="hungry", run=run, description="runs out of memory", params=dlbench.TRAINING_PARAMS
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


# -- resource bombs --------------------------------------------------------------------------

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(9)
)
BOMBS = {
    "alias-expansion": "name: m\n" + LAUGHS + "experiments: {e: {model: mlp}}\n",
    "self-reference": "name: m\nloop: &loop [*loop]\nexperiments: {e: {model: mlp}}\n",
    "deep-nesting": "name: m\nexperiments: " + "[" * 50000 + "]" * 50000 + "\n",
    "large-file": "name: m\n# " + "x" * (2 * 1024 * 1024) + "\nexperiments: {}\n",
}


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_resource_bombs_are_refused_quickly_and_cheaply(bench, tmp_path, bomb) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMBS[bomb])
    tracemalloc.start()
    started = time.perf_counter()
    result = bench("run", "--matrix", path, "--out", tmp_path / "o")
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    one_line_error(result)
    assert seconds < 5, seconds  # well under a second on a quiet machine; bounded here
    assert peak < 200 * 2**20, peak


def test_an_endless_input_is_refused(bench, tmp_path) -> None:
    one_line_error(bench("run", "--matrix", "/dev/zero", "--out", tmp_path / "o"))


EXPLODING = {
    "repeats": ("    repeats: 1000000000\n", "runs between 1 and 1000"),
    "product": (
        "    zip: []\n"
        "    strategy: {name: plain, lr: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "
        "batch_size: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], epochs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "
        "eval_batch_size: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "
        "momentum: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]}\n",
        "100,000 combinations",
    ),
    "wide-layer": ("    model: {name: mlp, hidden: 1000000000}\n", "between 1 and 65536"),
    "deep-model": ("    model: {name: mlp, depth: 1000000}\n", "between 2 and 1000"),
    "too-big-to-train": (
        "    model: {name: mlp, hidden: 65536, depth: 1000}\n",
        "more than this machine's",
    ),
}


@pytest.mark.parametrize("case", list(EXPLODING))
def test_sizes_that_explode_are_counted_before_anything_is_built(
    bench, write_matrix, tmp_path, case
) -> None:
    extra, message = EXPLODING[case]
    text = SMALL.replace("    model: {name: mlp, hidden: 8, depth: [2, 3]}\n", "") + extra
    text = text.replace("    tables:\n      - {rows: model.depth, metric: val_acc}\n", "")
    text = text.replace("    zip: []\n", "")
    if "model:" not in extra:
        text += "    model: {name: mlp, hidden: 8}\n"
    started = time.perf_counter()
    result = bench("run", "--matrix", write_matrix(text), "--out", tmp_path / "o")
    assert message in one_line_error(result)
    assert time.perf_counter() - started < 10


def test_threads_far_above_the_machine_are_refused(bench, write_matrix, tmp_path) -> None:
    result = bench("run", "--matrix", write_matrix(SMALL), "--threads", "100000")
    assert "between 1 and 1024" in one_line_error(result)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("strategy.lr=.nan", "got nan"),
        ("strategy.lr=.inf", "got inf"),
        ("strategy.weight_decay=-.inf", "got -inf"),
        ("dataset.val_fraction=1", "between 0 and 1 (not 0 or 1), got 1"),
        ("dataset.val_fraction=.nan", "got nan"),
        ("seeds=1180591620717411303424", "a seed between 0 and"),
    ],
)
def test_non_finite_and_edge_numbers_are_validation_errors(
    bench, write_matrix, tmp_path, setting, message
) -> None:
    result = bench("run", "--matrix", write_matrix(SMALL), "--set", setting, "--out", tmp_path)
    assert message in one_line_error(result)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SMALL.replace("  e:\n", '  "e\\n":\n'), "experiment names are 1 to 100 letters"),
        (SMALL.replace("  e:\n", '  "e\\u0007x":\n'), "experiment names are 1 to 100 letters"),
        (SMALL.replace("  e:\n", f"  {'e' * 300}:\n"), "experiment names are 1 to 100 letters"),
        (SMALL.replace("  e:\n", "  e.x:\n"), "experiment names are 1 to 100 letters"),
        (SMALL.replace("name: small", 'name: "small\\n"'), "name: expected a name of 1 to 100"),
        (SMALL.replace("name: small", f"name: {'s' * 300}"), "name: expected a name of 1 to 100"),
    ],
    ids=["newline", "control", "long", "dot", "matrix-newline", "matrix-long"],
)
def test_odd_names_are_refused(bench, write_matrix, tmp_path, text, message) -> None:
    result = bench("run", "--matrix", write_matrix(text), "--out", tmp_path / "o")
    assert message in one_line_error(result)
    assert not (tmp_path / "o").exists()


# -- filesystem faults -------------------------------------------------------------------------


def mount(*arguments: str) -> None:
    completed = subprocess.run(["mount", *arguments], capture_output=True, text=True)
    if completed.returncode != 0:
        pytest.skip(f"cannot mount here ({completed.stderr.strip()}); needs root")


@pytest.fixture
def read_only_results(bench, write_matrix, tmp_path):
    out = tmp_path / "o"
    assert bench("run", "--matrix", write_matrix(SMALL), "--out", out).code == 0
    mount("--bind", str(out), str(out))
    mount("-o", "remount,ro,bind", str(out))
    yield out
    subprocess.run(["umount", str(out)], check=False)


def test_a_read_only_results_directory_still_reports(bench, write_matrix, read_only_results):
    out = read_only_results
    result = bench("run", "--matrix", write_matrix(SMALL), "--out", out)
    assert result.code == 0 and "Depth  |" in result.out
    assert "read-only: every cell is stored" in result.err
    report = bench("report", out)
    assert report.code == 0 and "Depth  |" in report.out and "read-only" in report.err
    more = write_matrix(SMALL.replace("depth: [2, 3]", "depth: [2, 3, 4]"), name="more.yaml")
    refused = bench("run", "--matrix", more, "--out", out)
    assert "read-only, and 1 cell(s) would run" in one_line_error(refused)


def test_a_full_disk_stops_the_run_in_one_line_and_damages_nothing(
    bench, write_matrix, tmp_path
) -> None:
    out = tmp_path / "small-disk"
    out.mkdir()
    mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(out))
    try:
        depths = ", ".join(str(depth) for depth in range(2, 32))
        text = SMALL.replace("depth: [2, 3]", f"depth: [{depths}]")
        text = text.replace("epochs: 1", "epochs: 3")
        result = bench("run", "--matrix", write_matrix(text), "--out", out)
        assert "No space left on device" in one_line_error(result)
        stored = records(out)  # every record stored before the disk filled reads whole
        assert stored and all(r["status"] == "ok" for r in stored.values())
        assert not list(out.rglob("*.tmp"))
    finally:
        subprocess.run(["umount", str(out)], check=False)


@pytest.mark.parametrize("kind", ["folder", "link"])
def test_a_lock_that_is_not_a_file_is_refused(bench, write_matrix, tmp_path, kind) -> None:
    out = tmp_path / "o"
    out.mkdir()
    if kind == "folder":
        (out / ".lock").mkdir()
    else:
        (out / ".lock").symlink_to(tmp_path / "elsewhere")
    result = bench("run", "--matrix", write_matrix(SMALL), "--out", out)
    assert "expected dlbench's lock file" in one_line_error(result)
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("name", ["cells", "tables", "plots", "report.md"])
def test_links_leading_outside_are_never_written_through(
    bench, write_matrix, tmp_path, name
) -> None:
    out = tmp_path / "o"
    assert bench("run", "--matrix", write_matrix(SMALL), "--out", out).code == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    target = out / name
    if target.is_dir():
        for child in target.iterdir():
            child.unlink()
        target.rmdir()
    elif target.exists():
        target.unlink()
    target.symlink_to(outside / name if name.endswith(".md") else outside)
    result = bench("run", "--matrix", write_matrix(SMALL), "--out", out, "--force")
    assert "refusing to write through it" in one_line_error(result)
    assert list(outside.iterdir()) == []


MANIFEST_THIEF = """\
from pathlib import Path

import dlbench


@dlbench.hookimpl
def dlbench_cell_end(cell, record):
    for manifest in Path("{out}").glob("manifest.json"):
        manifest.write_text("{{ damaged")
"""


def test_a_manifest_damaged_during_the_run_is_rewritten(
    bench, install, write_matrix, tmp_path
) -> None:
    out = tmp_path / "o"
    install("thief", MANIFEST_THIEF.format(out=out))
    result = bench("run", "--matrix", write_matrix(SMALL), "--out", out)
    assert result.code == 0, result.err
    assert json.loads((out / "manifest.json").read_text())["name"] == "small"
    assert bench("report", out).code == 0


def test_baseline_export_to_a_directory_and_a_baseline_of_the_wrong_shape(
    bench, write_matrix, tmp_path
) -> None:
    out = tmp_path / "o"
    assert bench("run", "--matrix", write_matrix(SMALL), "--out", out).code == 0
    assert "is a folder" in one_line_error(bench("baseline", "export", out, tmp_path))
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"format": "dlbench-baseline/1", "cells": {"x": {"cell": 3}}}))
    assert "damaged baseline" in one_line_error(bench("compare", out, wrong))


# -- damaged stored files ----------------------------------------------------------------------


def test_a_record_with_fields_of_the_wrong_type_reruns_its_cell(
    bench, write_matrix, tmp_path
) -> None:
    out = tmp_path / "o"
    assert bench("run", "--matrix", write_matrix(SMALL), "--out", out).code == 0
    path = next((out / "cells").glob("*.json"))
    data = json.loads(path.read_text())
    data["final"] = []
    path.write_text(json.dumps(data))
    result = bench("run", "--matrix", write_matrix(SMALL), "--out", out)
    assert result.code == 0
    assert "record.final: expected a JSON object, found a list" in result.err
    assert "1 cell(s) to run, 1 already stored" in result.err


def test_a_manifest_missing_keys_is_one_line(bench, write_matrix, tmp_path) -> None:
    out = tmp_path / "o"
    assert bench("run", "--matrix", write_matrix(SMALL), "--out", out).code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["experiments"][0]["cells"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert "missing key 'cells'" in one_line_error(bench("report", out))


DISTILLED = """\
name: distilled
defaults:
  dataset: {name: digits, train_subset: 64}
  model: {name: mlp, hidden: 8}
experiments:
  teacher:
    strategy: {name: plain, epochs: 1}
  student:
    strategy: {name: distill, teacher: {from: teacher}, epochs: 1, mode: online}
"""


def stored_teacher_and_student(bench, write_matrix, out: Path) -> tuple[Path, dict]:
    """Run the matrix, then forget the student, so that the next run trains it alone."""
    assert bench("run", "--matrix", write_matrix(DISTILLED), "--out", out).code == 0
    student = next(r for r in records(out).values() if r["cell"]["strategy"]["name"] == "distill")
    (out / "cells" / f"{student['cell_id']}.json").unlink()
    teacher = next(r for r in records(out).values() if r["cell"]["strategy"]["name"] == "plain")
    return out / teacher["artifacts"]["checkpoint"], teacher


def student_error(out: Path) -> str:
    student = next(r for r in records(out).values() if r["cell"]["strategy"]["name"] == "distill")
    return student["error"] or ""


def test_a_damaged_checkpoint_is_never_used(bench, write_matrix, tmp_path) -> None:
    out = tmp_path / "o"
    checkpoint, _ = stored_teacher_and_student(bench, write_matrix, out)
    data = bytearray(checkpoint.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit
    checkpoint.write_bytes(bytes(data))
    result = bench("run", "--matrix", write_matrix(DISTILLED), "--out", out)
    assert result.code == 1
    assert "damaged (its content hash" in student_error(out)
    assert checkpoint.read_bytes() == bytes(data)  # left for the user to look at, not replaced


def test_an_artifact_path_outside_the_results_directory_is_refused(
    bench, write_matrix, tmp_path
) -> None:
    out = tmp_path / "o"
    checkpoint, teacher = stored_teacher_and_student(bench, write_matrix, out)
    outside = tmp_path / checkpoint.name
    outside.write_bytes(checkpoint.read_bytes())
    teacher["artifacts"]["checkpoint"] = f"../{checkpoint.name}"
    (out / "cells" / f"{teacher['cell_id']}.json").write_text(json.dumps(teacher))
    result = bench("run", "--matrix", write_matrix(DISTILLED), "--out", out)
    assert result.code == 1
    assert "outside the results directory" in student_error(out)


# -- signals and permissions -------------------------------------------------------------------


def start(matrix: Path, out: Path) -> subprocess.Popen:
    return start_bench(matrix, out)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_stop_like_ctrl_c(write_matrix, tmp_path, signum, code) -> None:
    # A one-epoch cell, then one that trains for minutes: the signal finds the second in flight.
    text = SMALL.replace(
        "    model: {name: mlp, hidden: 8, depth: [2, 3]}",
        "    model: {name: mlp, hidden: 8, depth: 2}\n"
        "  long:\n"
        "    dataset: {name: digits, train_subset: 1000}\n"
        "    strategy: {name: plain, epochs: 5000}\n"
        "    model: {name: mlp, hidden: 8, depth: 3}",
    )
    matrix, out = write_matrix(text), tmp_path / "o"
    process = start(matrix, out)
    deadline = time.monotonic() + 120
    while not list((out / "cells").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == code, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"bench: stopped ({signal.Signals(signum).name})")
    assert {r["status"] for r in records(out).values()} == {"ok"}  # the cell in flight: none
    assert len(records(out)) == 1
    shorter = "experiments.long.strategy.epochs=1"
    finished = subprocess.run(  # the lock was released
        [BENCH, "run", "--matrix", str(matrix), "--out", str(out), "--set", shorter],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0 and "1 cell(s) to run, 1 already stored" in finished.stderr


def test_ctrl_c_during_start_up_prints_no_traceback(write_matrix, tmp_path) -> None:
    process = start(write_matrix(SMALL), tmp_path / "o")
    time.sleep(0.5)  # still importing torch and loading plugins
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert "Traceback" not in err
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("bench: stopped (interrupted)")


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_files_follow_the_users_umask(write_matrix, tmp_path, umask, mode) -> None:
    out = tmp_path / "o"
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import os, sys; os.umask({umask}); "
            "from dlbench.bench.cli import main; sys.exit(main(sys.argv[1:]))",
            "run",
            "--matrix",
            str(write_matrix(SMALL)),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    for path in [*(out / "cells").glob("*.json"), out / "report.md", out / "manifest.json"]:
        assert path.stat().st_mode & 0o777 == mode, path
