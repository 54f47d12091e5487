"""MLflow: stored runs exported to a real tracking store (SQLite, and a real ``mlflow server``
on the loopback address) and read back with MLflow's own client; exporting again adds nothing
twice; live runs logged epoch by epoch while a matrix trains."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import SMALL, list_records

mlflow = pytest.importorskip("mlflow", reason="needs mlflow (the mlflow extra)")

TWO_EPOCHS = SMALL.replace("epochs: 1}", "epochs: 2}")


@pytest.fixture(autouse=True)
def _in_a_folder_of_its_own(tmp_path, monkeypatch) -> None:
    # A SQLite store keeps its artifacts in ./mlruns of the working folder (MLflow's default):
    # never the checkout's.
    monkeypatch.chdir(tmp_path)


def runs_of(uri: str) -> list:
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("dlbench/small")
    assert experiment is not None
    return client.search_runs([experiment.experiment_id])


def check_runs(uri: str, out: Path) -> None:
    """One MLflow run per cell, holding what its record holds."""
    client = mlflow.MlflowClient(tracking_uri=uri)
    found = {run.data.tags["dlbench.cell_id"]: run for run in runs_of(uri)}
    records = {r["cell_id"]: r for r in list_records(out)}
    assert set(found) == set(records)
    for cell_id, run in found.items():
        record = records[cell_id]
        assert run.data.params["model.depth"] == str(record["cell"]["model"]["params"]["depth"])
        assert run.data.params["seed"] == "0"
        history = client.get_metric_history(run.info.run_id, "train_loss")
        assert [m.step for m in history] == [1, 2]
        assert [m.value for m in history] == pytest.approx(
            [e["train_loss"] for e in record["epochs"]]
        )
        assert run.data.metrics["final/val_acc.best"] == pytest.approx(
            record["final"]["val_acc@best"]
        )
        artifacts = [a.path for a in client.list_artifacts(run.info.run_id)]
        assert "report.md" in artifacts


def test_export_to_a_sqlite_store_reads_back_and_adds_nothing_twice(
    bench, write_matrix, tmp_path
) -> None:
    path, out = write_matrix(TWO_EPOCHS), tmp_path / "o"
    assert bench("run", "--matrix", path, "--out", out).code == 0
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = bench("export", out, "--to", "mlflow", "--tracking-uri", uri)
    assert first.code == 0, first.err
    assert "2 run(s) written to MLflow (0 replacing earlier ones), 0 already there" in first.out
    check_runs(uri, out)
    again = bench("export", out, "--to", "mlflow", "--tracking-uri", uri)
    assert "0 run(s) written to MLflow (0 replacing earlier ones), 2 already there" in again.out
    assert len(runs_of(uri)) == 2
    # A cell that ran again replaces its run; the other is left as it is.
    assert bench("run", "--matrix", path, "--out", out, "--force").code == 0
    third = bench("export", out, "--to", "mlflow", "--tracking-uri", uri)
    assert "2 run(s) written to MLflow (2 replacing earlier ones)" in third.out
    assert len(runs_of(uri)) == 2
    check_runs(uri, out)


def test_live_runs_are_logged_epoch_by_epoch_and_an_export_after_adds_nothing(
    bench, write_matrix, tmp_path
) -> None:
    uri = f"sqlite:///{tmp_path / 'live.db'}"
    path, out = write_matrix(TWO_EPOCHS), tmp_path / "o"
    result = bench("run", "--matrix", path, "--out", out, "--mlflow", uri, "--jobs", "1")
    assert result.code == 0, result.err
    assert "live runs in MLflow:" in result.err
    check_runs(uri, out)
    again = bench("export", out, "--to", "mlflow", "--tracking-uri", uri)
    assert "0 run(s) written to MLflow (0 replacing earlier ones), 2 already there" in again.out


def test_bad_mlflow_requests_are_one_line_errors(bench, tmp_path, small_run) -> None:
    _, out = small_run
    wrong = bench("export", out, "--tracking-uri", "sqlite:///x.db")
    assert wrong.code == 2 and "--tracking-uri: only with --to mlflow" in wrong.err
    unreachable = bench("export", out, "--to", "mlflow", "--tracking-uri", "nosuch://x")
    assert unreachable.code == 2 and "Traceback" not in unreachable.err
    assert unreachable.err.count("\n") == 1, unreachable.err
    assert "the tracking store nosuch://x" in unreachable.err


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mlflow_server(tmp_path):
    """A real ``mlflow server`` on the loopback address, with a SQLite store of its own."""
    port = _free_port()
    command = [
        sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
        "--default-artifact-root", str(tmp_path / "artifacts"), "--workers", "1",
    ]  # fmt: skip
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 (closed below, after the server)
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            if server.poll() is not None:
                log.close()
                text = (tmp_path / "server.log").read_text()[-500:]
                pytest.fail(f"mlflow server exited: {text}")
            time.sleep(0.5)
    else:
        server.kill()
        log.close()
        pytest.fail("mlflow server did not answer within 90 s")
    yield url
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    log.close()


def test_export_to_a_real_mlflow_server(bench, write_matrix, tmp_path, mlflow_server) -> None:
    path, out = write_matrix(TWO_EPOCHS), tmp_path / "o"
    assert bench("run", "--matrix", path, "--out", out).code == 0
    first = bench("export", out, "--to", "mlflow", "--tracking-uri", mlflow_server)
    assert first.code == 0, first.err
    assert f"tracking store {mlflow_server}" in first.out
    check_runs(mlflow_server, out)
    again = bench("export", out, "--to", "mlflow", "--tracking-uri", mlflow_server)
    assert "2 already there" in again.out and len(runs_of(mlflow_server)) == 2
