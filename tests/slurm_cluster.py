"""A real single-node SLURM on this machine for the slurm executor's tests: munged, slurmctld and
slurmd from Debian's packages (installed by ``.ci/run``), a generated ``slurm.conf`` with this
host as the only node, everything on loopback, stopped afterwards."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def missing() -> str:
    """Why a local SLURM cannot start here, or ``""``."""
    absent = [name for name in BINARIES if shutil.which(name) is None]
    if absent:
        return f"{', '.join(absent)} not installed (apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "starting munged and slurmd needs root"
    return ""


def _config(folder: Path, munge_socket: Path) -> str:
    host = socket.gethostname().split(".")[0]
    cores = os.cpu_count() or 1
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    return f"""\
ClusterName=dlbenchtest
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={munge_socket}
CredType=cred/munge
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
MinJobAge=3600
DefMemPerCPU=1024
KillWait=5
InactiveLimit=0
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName={host} NodeAddr=127.0.0.1 CPUs={cores} RealMemory={memory - 1024} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


@contextmanager
def local_slurm() -> Iterator[dict[str, str]]:
    """Start munged, slurmctld and slurmd; yield the environment that talks to them."""
    folder = Path(tempfile.mkdtemp(prefix="sl", dir="/tmp"))  # short: socket paths are limited
    for name in ("state", "spool", "munge"):
        (folder / name).mkdir()
    key = folder / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    munge = pwd.getpwnam("munge")
    os.chown(folder / "munge", munge.pw_uid, munge.pw_gid)
    os.chown(key, munge.pw_uid, munge.pw_gid)
    key.chmod(0o400)
    munge_socket = folder / "munge" / "munge.socket"
    (folder / "slurm.conf").write_text(_config(folder, munge_socket))
    environment = {**os.environ, "SLURM_CONF": str(folder / "slurm.conf")}
    started: list[Path] = []
    try:
        subprocess.run(
            [
                "munged",
                "--force",
                f"--key-file={key}",
                f"--socket={munge_socket}",
                f"--pid-file={folder}/munge/munged.pid",
                f"--log-file={folder}/munge/munged.log",
                f"--seed-file={folder}/munge/munged.seed",
            ],
            check=True,
            capture_output=True,
        )
        started.append(folder / "munge" / "munged.pid")
        for daemon, pid in (("slurmctld", "slurmctld.pid"), ("slurmd", "slurmd.pid")):
            extra = ["-i"] if daemon == "slurmctld" else []
            subprocess.run([daemon, *extra], check=True, capture_output=True, env=environment)
            started.append(folder / pid)
            time.sleep(0.5)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = subprocess.run(
                ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=environment
            ).stdout.strip()
            if state == "idle":
                break
            time.sleep(0.5)
        else:
            log = (folder / "slurmctld.log").read_text()[-2000:]
            raise RuntimeError(f"the local SLURM did not become idle (state {state!r}): {log}")
        yield environment
    finally:
        subprocess.run(["scancel", "--user=root"], env=environment, capture_output=True)
        for pid_file in reversed(started):
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid_file.read_text().strip()), 15)
        time.sleep(1)
        shutil.rmtree(folder, ignore_errors=True)
