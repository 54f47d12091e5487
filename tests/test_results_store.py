"""The results directory under faults: damaged, linked or half-written stored files, full
and read-only disks, locks, umask. Each ends in one line or a listed failure, never a traceback,
and nothing stored is lost or written outside the results directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import SMALL, one_line_error, records, snapshot
from inline_plugins import FLAKY

import dlbench


@pytest.fixture
def read_only_results(bench, write_matrix, tmp_path):
    out = tmp_path / "o"
    assert bench("run", "--matrix", write_matrix(SMALL), "--out", out).code == 0
    mount("--bind", str(out), str(out))
    mount("-o", "remount,ro,bind", str(out))
    yield out
    subprocess.run(["umount", str(out)], check=False)


def mount(*arguments: str) -> None:
    completed = subprocess.run(["mount", *arguments], capture_output=True, text=True)
    if completed.returncode != 0:
        pytest.skip(f"cannot mount here ({completed.stderr.strip()}); needs root")


MANIFEST_THIEF = """\
from pathlib import Path

import dlbench


@dlbench.hookimpl
def dlbench_cell_end(cell, record):
    for manifest in Path("{out}").glob("manifest.json"):
        manifest.write_text("{{ damaged")
"""


def stored_teacher_and_student(bench, write_matrix, out: Path) -> tuple[Path, dict]:
    """Run the matrix, then forget the student, so that the next run trains it alone."""
    assert bench("run", "--matrix", write_matrix(DISTILLED), "--out", out).code == 0
    student = next(r for r in records(out).values() if r["cell"]["strategy"]["name"] == "distill")
    (out / "cells" / f"{student['cell_id']}.json").unlink()
    teacher = next(r for r in records(out).values() if r["cell"]["strategy"]["name"] == "plain")
    return out / teacher["artifacts"]["checkpoint"], teacher


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


def student_error(out: Path) -> str:
    student = next(r for r in records(out).values() if r["cell"]["strategy"]["name"] == "distill")
    return student["error"] or ""


def _damage_one(out: Path, change) -> Path:
    record = sorted((out / "cells").glob("*.json"))[0]
    data = json.loads(record.read_text())
    change(data)
    record.write_text(json.dumps(data))
    return record


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


def test_a_manifest_damaged_during_the_run_is_rewritten(
    bench, install, write_matrix, tmp_path
) -> None:
    out = tmp_path / "o"
    install("thief", MANIFEST_THIEF.format(out=out))
    result = bench("run", "--matrix", write_matrix(SMALL), "--out", out)
    assert result.code == 0, result.err
    assert json.loads((out / "manifest.json").read_text())["name"] == "small"
    assert bench("report", out).code == 0


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


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["cell"].__setitem__("model", "mlp"), "cell.model: expected a JSON object"),
        (lambda d: d["final"].__setitem__("val_acc@best", 10**400), "too large for a float"),
        (lambda d: d["epochs"].append("epoch"), "record.epochs[1]"),
        (lambda d: d["cell"]["model"].__setitem__("params", [1]), "cell.model.params"),
        (lambda d: d["environment"].__setitem__("machine", "vm"), "environment.machine"),
        (lambda d: d["environment"]["machine"].__setitem__("cores", "2"), "machine.cores"),
        (lambda d: d["environment"].__setitem__("threads", 1.5), "environment.threads"),
        (lambda d: d["final"].__setitem__("val_acc@best", float("nan")), "nan where a finite"),
        (lambda d: d["epochs"][0].__setitem__("val_loss", float("inf")), "inf where a finite"),
        (lambda d: d["timings"].__setitem__("total", float("nan")), "record.timings.total"),
    ],
    ids=[
        "cell-model-a-string",
        "a-400-digit-accuracy",
        "an-epoch-not-a-mapping",
        "params-a-list",
        "machine-a-string",
        "cores-a-string",
        "threads-not-whole",
        "nan-accuracy",
        "infinite-epoch-loss",
        "nan-timing",
    ],
)
def test_a_record_with_a_damaged_inside_is_left_out_with_a_warning(
    bench, small_run, tmp_path, change, message
) -> None:
    path, out = small_run
    damaged = _damage_one(out, change)
    for args in (
        ("export", out),
        ("export", out, "--epochs", "--format", "jsonl"),
        ("export", out, "--to", "tensorboard", "--out", tmp_path / "tb"),
        ("report", out),
    ):
        result = bench(*args)
        assert result.code == 0, (args, result.err)
        assert "Traceback" not in result.err
        assert f"{damaged}: unreadable record" in result.err and message in result.err, result.err
    with pytest.warns(UserWarning, match="unreadable record"):
        frame = dlbench.load_results(out)
    assert len(frame) == 1
    rerun = bench("run", "--matrix", path, "--out", out)
    assert rerun.code == 0 and "1 cell(s) to run, 1 already stored" in rerun.err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m["experiments"][0].__setitem__("tables", ["rows"]), "tables[0]"),
        (lambda m: m["experiments"][0]["tables"][0].__setitem__("labels", "x"), "labels"),
        (lambda m: m["experiments"][0]["cells"][0].__setitem__("id", "0" * 16), "stored id"),
        (lambda m: m.__setitem__("code", {"x": 1}), "manifest.code.x"),
    ],
    ids=["table-a-string", "labels-a-string", "cell-id-not-its-content", "code-not-a-mapping"],
)
def test_a_manifest_with_a_damaged_inside_is_one_line(bench, small_run, change, message) -> None:
    path, out = small_run
    manifest = json.loads((out / "manifest.json").read_text())
    change(manifest)
    (out / "manifest.json").write_text(json.dumps(manifest))
    line = one_line_error(bench("report", out))
    assert "damaged manifest" in line and message in line
    assert bench("run", "--matrix", path, "--out", out).code == 0  # rewritten from the matrix


def test_a_record_that_is_a_link_out_of_the_results_directory_is_not_read(
    bench, small_run, tmp_path
) -> None:
    _, out = small_run
    record = sorted((out / "cells").glob("*.json"))[0]
    outside = tmp_path / "outside.json"
    outside.write_bytes(record.read_bytes())
    record.unlink()
    record.symlink_to(outside)
    result = bench("export", out)
    assert result.code == 0 and "outside the results directory" in result.err
    assert result.out.count("\n") == 2  # the header and the other cell


def test_a_run_removes_the_temporary_files_dead_runs_left(bench, small_run) -> None:
    path, out = small_run
    dead = out / "cells" / ".abc.json.x1y2.tmp"
    fresh = out / "cells" / ".def.json.z3w4.tmp"
    dead.write_text("half a record")
    fresh.write_text("a write in progress")
    an_hour_ago = time.time() - 3600
    os.utime(dead, (an_hour_ago, an_hour_ago))
    result = bench("run", "--matrix", path, "--out", out)
    assert result.code == 0
    assert "removed 1 temporary file(s) left by an interrupted run" in result.err
    assert not dead.exists() and fresh.exists()
