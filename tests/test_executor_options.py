"""Executors declare their options as parameters: listed, given in the matrix or on the command
line, checked against the declaration (a misspelt or foreign one is a one-line error), and a
third-party executor gets the options it declares."""

from __future__ import annotations

import json
import textwrap

import pytest
from helpers import SMALL, list_records, one_line_error

import dlbench

COUNTING = '''\
import json
from pathlib import Path

import dlbench


class Counting:
    """Runs cells here, one after another, and writes what it was given beside the records."""

    def __init__(self, *, label, repeat):
        self.label, self.repeat = label, repeat

    def run(self, cells, run_cell):
        note = Path(run_cell.store_root) / "counting.json"
        note.write_text(json.dumps({"label": self.label, "repeat": self.repeat}))
        for cell in cells:
            yield run_cell(cell)


@dlbench.hookimpl
def dlbench_register_executors(register):
    register(dlbench.ExecutorSpec(
        name="counting",
        create=Counting,
        description="a third-party executor with options",
        params={
            "label": dlbench.Param("none", str, "a name for the run"),
            "repeat": dlbench.Param(1, int, "a number", minimum=1, maximum=5),
        },
    ))
'''


def test_executors_list_their_options(bench) -> None:
    listing = bench("list", "executors", "--params").out
    for name, option in (("local", "jobs"), ("ray", "address"), ("slurm", "partition")):
        assert f"{name}:" in listing and option in listing.split(f"{name}:")[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--executor", "ray", "--jobs", "4"),
            "--jobs 4: executor 'ray' takes no option 'jobs'; its options: address, max_retries",
        ),
        (
            ("--executor-opt", "job=2"),
            "executor 'local' takes no option 'job'; did you mean 'jobs'?",
        ),
        (
            ("--executor-opt", "jobs=two"),
            "expected an integer between 1 and 256, or 'auto', got 'two'",
        ),
        (("--jobs", "300"), "--jobs 300: executor 'local' parameter 'jobs'"),
        (("--executor-opt", "jobs"), "expected KEY=VALUE"),
    ],
)
def test_an_option_the_executor_does_not_take_is_one_line(
    bench, write_matrix, tmp_path, args, message
) -> None:
    result = bench("run", "--matrix", write_matrix(SMALL), "--out", tmp_path / "o", *args)
    assert result.code == 2 and "Traceback" not in result.err
    assert result.err.count("\n") == 1 and message in result.err, result.err
    assert not (tmp_path / "o").exists()


def test_matrix_options_are_checked_where_they_are_written(bench, write_matrix) -> None:
    text = SMALL.replace("name: small\n", "name: small\nexecutor: {name: local, jbos: 2}\n")
    result = bench("run", "--matrix", write_matrix(text), "--dry-run")
    assert result.code == 2
    assert ":2: executor.jbos: unknown parameter 'jbos' for executor 'local'" in result.err
    assert "did you mean 'jobs'?" in result.err


def test_a_third_party_executor_gets_the_options_it_declares(
    bench, install, write_matrix, tmp_path
) -> None:
    install("counting_executor", COUNTING)
    text = SMALL.replace("name: small\n", "name: small\nexecutor: {name: counting, label: lab}\n")
    out = tmp_path / "o"
    dry = bench("run", "--matrix", write_matrix(text), "--out", out, "--dry-run")
    assert "executor counting (label='lab', repeat=1)" in dry.out
    result = bench(
        "run", "--matrix", write_matrix(text), "--out", out, "--executor-opt", "repeat=3"
    )
    assert result.code == 0, result.err
    assert json.loads((out / "counting.json").read_text()) == {"label": "lab", "repeat": 3}
    records = [json.loads(p.read_text()) for p in (out / "cells").glob("*.json")]
    assert {r["environment"]["executor"] for r in records} == {"counting (label='lab', repeat=3)"}
    wrong = bench("run", "--matrix", write_matrix(text), "--executor-opt", "repeat=9")
    assert wrong.code == 2 and "expected an integer between 1 and 5, got 9" in wrong.err
    assert "--executor-opt repeat=9" in wrong.err


def test_an_executor_whose_create_does_not_take_its_options_is_refused(bench, install) -> None:
    install(
        "careless_executor",
        textwrap.dedent(COUNTING)
        .replace("def __init__(self, *, label, repeat):", "def __init__(self, *, label):")
        .replace("self.label, self.repeat = label, repeat", "self.label = label"),
    )
    result = bench("list", "executors")
    assert "executor 'counting' parameter 'repeat' is declared but create() does not take it" in (
        result.err
    )


def test_the_local_executor_owns_its_threads_and_records_them(
    bench, write_matrix, tmp_path, monkeypatch
) -> None:
    from dlbench.plugins.executors import local
    from dlbench.plugins.executors.local_choice import Machine

    monkeypatch.setattr(local, "this_machine", lambda: Machine(cores=2, memory=2**35))
    out = tmp_path / "o"
    result = bench("run", "--matrix", write_matrix(SMALL), "--out", out, "--jobs", "2")
    assert result.code == 0, result.err
    environments = [json.loads(p.read_text())["environment"] for p in (out / "cells").glob("*")]
    assert {(e["jobs"], e["threads"]) for e in environments} == {(2, 1)}
    assert {e["jobs_choice"] for e in environments} == {
        next(line for line in result.err.splitlines() if "worker(s)" in line).removeprefix(
            "bench: "
        )
    }


# -- jobs auto: workers chosen from cores, memory and cells ---------------------------------------


class _Run:
    """A cell function whose footprint the test sets."""

    threads, threads_given, device, store_root = 8, False, "cpu", "/nonexistent"
    in_process_plugins: tuple[str, ...] = ()

    def __init__(self, parameters: int, memory: int) -> None:
        from dlbench import Footprint

        self.print = Footprint(parameters, memory)

    def footprint(self, cell):
        return self.print


@pytest.mark.parametrize(
    ("jobs", "cells", "parameters", "cores", "memory_gib", "workers", "capped"),
    [
        ("auto", 24, 2_000_000, 8, 64, 8, ""),  # small cells: a worker per core
        ("auto", 3, 2_000_000, 8, 64, 3, "cells"),  # no more workers than cells
        ("auto", 24, 11_000_000, 8, 64, 1, ""),  # big cells take every core
        ("auto", 1, 2_000_000, 8, 64, 1, ""),  # one cell
        ("auto", 24, 2_000_000, 8, 2, 3, "memory"),  # 80% of 2 GiB holds three workers
        (256, 24, 2_000_000, 2, 64, 2, "cores"),  # --jobs 256 on 2 cores
        (256, 300, 2_000_000, 64, 4, 6, "memory"),  # ... on a big machine with little memory
        (2, 24, 11_000_000, 8, 64, 2, ""),  # a number is taken as asked
    ],
)
def test_jobs_auto_and_caps_on_a_mocked_machine(
    jobs, cells, parameters, cores, memory_gib, workers, capped
) -> None:
    from dlbench.plugins.executors.local_choice import Machine, choose

    gib = 2**30
    run = _Run(parameters, gib // 2)  # half a GiB a worker; 80% of the memory is planned
    chosen, threads, why = choose(jobs, [object()] * cells, run, Machine(cores, memory_gib * gib))
    assert chosen == workers and threads == max(1, cores // workers)
    assert chosen <= cores and chosen * gib // 2 <= memory_gib * gib
    assert (f"capped by {capped}" in why) if capped else "capped" not in why
    assert f"{chosen} worker(s) of {threads} thread(s)" in why


def test_jobs_256_on_this_machine_runs_with_a_notice(bench, write_matrix, tmp_path) -> None:
    out = tmp_path / "o"
    result = bench("run", "--matrix", write_matrix(SMALL), "--out", out, "--jobs", "256")
    assert result.code == 0, result.err
    notice = [line for line in result.err.splitlines() if "jobs 256:" in line]
    assert len(notice) == 1 and "capped by" in notice[0]
    import os

    workers = int(notice[0].split(": ")[2].split()[0])
    assert workers <= len(os.sched_getaffinity(0))


@pytest.mark.parametrize("jobs", ["256", "1", "auto"])
def test_the_dry_run_says_what_the_run_does_and_the_records_keep_it(
    bench, write_matrix, tmp_path, monkeypatch, jobs
) -> None:
    from dlbench.plugins.executors import local
    from dlbench.plugins.executors.local_choice import Machine

    monkeypatch.setattr(local, "this_machine", lambda: Machine(cores=2, memory=2**35))
    path, out = write_matrix(SMALL), tmp_path / "o"
    dry = bench("run", "--matrix", path, "--out", out, "--jobs", jobs, "--dry-run")
    assert dry.code == 0, dry.err
    planned = dry.out.split("; executor local: ", 1)[1].splitlines()[0]
    assert planned.startswith(f"jobs {jobs}: ")
    assert ("capped by" in planned) == (jobs == "256")
    ran = bench("run", "--matrix", path, "--out", out, "--jobs", jobs)
    assert ran.code == 0, ran.err
    assert f"bench: {planned}" in ran.err.splitlines()
    why = planned.split("; cells run here")[0]
    choices = {r["environment"]["jobs_choice"] for r in list_records(out)}
    assert choices <= {why, why + "; ran in the starting process"}, choices


def test_the_plan_reads_stored_durations_of_the_same_configurations(
    bench, write_matrix, tmp_path, monkeypatch
) -> None:
    from dlbench.plugins.executors import local_workers

    monkeypatch.setattr(local_workers, "WORKER_START_S", 0.0)  # any stored second repays a worker
    path, out = write_matrix(SMALL), tmp_path / "o"
    before = dlbench.plan(path, out=out).attrs["executor"]
    assert before.endswith("cells run here until workers would pay"), before
    assert bench("run", "--matrix", path, "--out", out).code == 0
    frame = dlbench.plan(path, out=out, overrides=["seeds=[1, 2]"])
    assert list(frame["status"]) == ["to run"] * 4
    assert frame.attrs["executor"].endswith("workers pay: they start now"), frame.attrs


def test_plugins_of_this_process_only_keep_cells_here() -> None:
    from dlbench.plugins.executors.local_choice import Machine, choose

    run = _Run(2_000_000, 2**29)
    run.in_process_plugins = ("fake",)
    for jobs in ("auto", 4):
        chosen, _, why = choose(jobs, [object()] * 24, run, Machine(8, 64 * 2**30))
        assert chosen == 1 and "capped by plugins of this process only (fake)" in why


class _Timed(_Run):
    """A cell function whose every cell takes ``seconds`` on a clock the test moves."""

    def __init__(self, seconds: float, clock: list[float]) -> None:
        super().__init__(1000, 2**29)
        self.seconds, self.clock, self.ran = seconds, clock, []

    def __call__(self, cell):
        self.clock[0] += self.seconds
        self.ran.append(cell)
        return cell


class _Cell:
    def __init__(self, index: int) -> None:
        self.id, self.strategy = f"c{index}", type("S", (), {"params": {"epochs": 1}})()

    def producers(self):
        return []


def _pace(monkeypatch, cells: int, stored: float | None = None):
    from dlbench import Footprint
    from dlbench.plugins.executors import local_workers

    assert local_workers.WORKER_START_S == 5.0
    clock = [0.0]
    monkeypatch.setattr(local_workers.time, "perf_counter", lambda: clock[0])
    run = _Run(1000, 2**29)
    run.print = Footprint(1000, 2**29, seconds=stored)
    found = [_Cell(i) for i in range(cells)]
    return local_workers._Pace(found, run), found, clock


@pytest.mark.parametrize(("seconds", "pays"), [(0.5, False), (0.6, True)])
def test_workers_start_once_cells_run_here_show_the_work_left_repays_them(
    monkeypatch, seconds, pays
) -> None:
    """20 equal cells, 2 processes: with one cell of t seconds run here, the 19 left take
    19 t, of which a second process saves half; starting it costs 5 s: it pays once
    t > 0.53 s."""
    pace, cells, clock = _pace(monkeypatch, 20)
    assert not pace.workers_pay(cells[1:], 2)  # nothing known yet
    pace.started(cells[0])
    clock[0] += seconds
    pace.finished(cells[0])
    assert pace.workers_pay(cells[1:], 2) == pays


@pytest.mark.parametrize(("seconds", "pays"), [(4.9, False), (5.0, True)])
def test_a_cell_in_flight_counts_once_it_outlasts_a_workers_start(
    monkeypatch, seconds, pays
) -> None:
    """A first cell's time includes loading its dataset: in flight, it says how long cells
    take only once it has run longer than a worker's start (5 s); then 19 cells left of at
    least 5 s each repay a worker many times."""
    pace, cells, clock = _pace(monkeypatch, 20)
    pace.started(cells[0])
    clock[0] += seconds
    assert pace.workers_pay(cells[1:], 2) == pays


def test_short_cells_never_start_workers(monkeypatch) -> None:
    """0.4 s cells: the 19 left would save 3.8 s at most, under the 5 s a worker costs."""
    pace, cells, clock = _pace(monkeypatch, 20)
    for index, cell in enumerate(cells[:-1]):
        pace.started(cell)
        clock[0] += 0.4
        assert not pace.workers_pay(cells[index + 1 :], 2)
        pace.finished(cell)


def test_no_worker_starts_for_one_cell_left(monkeypatch) -> None:
    """Two long cells: with the first finished, one is left, and a second process saves
    nothing; with the first in flight, the other runs beside it."""
    pace, cells, clock = _pace(monkeypatch, 2)
    pace.started(cells[0])
    clock[0] += 60.0
    assert pace.workers_pay(cells[1:], 2)
    pace.finished(cells[0])
    assert not pace.workers_pay(cells[1:], 2)


def test_a_wave_of_long_cells_with_stored_runs_starts_workers_at_once(monkeypatch) -> None:
    """A decided comparison's later wave: cells whose configurations have stored runs of
    180 s: workers pay before anything runs here."""
    pace, cells, _ = _pace(monkeypatch, 4, stored=180.0)
    assert pace.workers_pay(cells, 2)
    pace, cells, _ = _pace(monkeypatch, 4, stored=1.0)
    assert not pace.workers_pay(cells, 2)


def test_a_long_first_cell_starts_a_worker_beside_this_process(
    bench, write_matrix, tmp_path, monkeypatch
) -> None:
    """Eight cells of about a second: with a worker's start taken as 1 s (it is about 4), the
    pool starts while the first runs here, and this process goes on running cells beside it;
    every record says where it ran."""
    from dlbench.plugins.executors import local_workers

    monkeypatch.setattr(local_workers, "WORKER_START_S", 1.0)
    text = SMALL.replace("train_subset: 64", "train_subset: 1000").replace(
        "epochs: 1}", "epochs: 100}"
    )
    text = text.replace(
        "hidden: 8, depth: [2, 3]}", "hidden: 256, depth: [2, 3]}\n    seeds: [0, 1, 2, 3]"
    )
    out = tmp_path / "o"
    result = bench("run", "--matrix", write_matrix(text), "--out", out, "--threads", "1")
    assert result.code == 0, result.err
    assert "starting 1 worker(s) beside this process for" in result.err, result.err
    places = [r["environment"]["jobs_choice"] for r in list_records(out)]
    assert len(places) == 8
    here = [p for p in places if p.endswith("ran in the starting process")]
    assert 1 <= len(here) < 8, places


def test_tiny_cells_run_here_without_workers(bench, write_matrix, tmp_path) -> None:
    out = tmp_path / "o"
    result = bench("run", "--matrix", write_matrix(SMALL), "--out", out)
    assert result.code == 0, result.err
    assert "cells run here until workers would pay" in result.err
    assert "starting" not in result.err
    records = [json.loads(p.read_text()) for p in (out / "cells").glob("*.json")]
    assert records and all(
        "ran in the starting process" in r["environment"]["jobs_choice"] for r in records
    )


def test_a_plugin_a_worker_cannot_load_fails_its_cells_with_the_reason(
    install, write_matrix, tmp_path
) -> None:
    """An installed-looking plugin that worker processes cannot import (entry points patched
    in this process only): each cell's record says why, and nothing is silently different."""
    from dlbench.bench.cli import main

    install(
        "only_here",
        """
        import dlbench

        @dlbench.hookimpl
        def dlbench_register_models(register):
            register(dlbench.ModelSpec(
                name="only_here_mlp",
                build=lambda shape, classes: __import__("torch").nn.Sequential(
                    __import__("torch").nn.Flatten(),
                    __import__("torch").nn.LazyLinear(classes)),
                description="a model this process alone can load",
            ))
        """,
    )
    text = SMALL.replace("{name: mlp, hidden: 8, depth: [2, 3]}", "only_here_mlp")
    text = text.replace("epochs: 1}", "epochs: 1, lr: [0.01, 0.02]}").replace(
        "model.depth", "strategy.lr"
    )
    matrix = write_matrix(text)
    out = tmp_path / "o"
    assert main(["run", "--matrix", str(matrix), "--out", str(out), "--jobs", "2"]) == 1
    records = [json.loads(p.read_text()) for p in (out / "cells").glob("*.json")]
    assert records and all(r["status"] == "failed" for r in records)
    assert all("only_here" in r["error"] and "--jobs 1" in r["error"] for r in records)


def test_executor_options_without_a_name_are_the_local_executors(bench, write_matrix) -> None:
    text = SMALL.replace("name: small\n", "name: small\nexecutor: {jobs: 1}\n")
    result = bench("run", "--matrix", write_matrix(text), "--dry-run")
    assert result.code == 0, result.err
    assert "executor local: jobs 1: 1 worker(s)" in result.out
    wrong = SMALL.replace("name: small\n", "name: small\nexecutor: {name: [1], jobs: 1}\n")
    assert "unknown executor '[1]'" in one_line_error(bench("run", "--matrix", write_matrix(wrong)))
