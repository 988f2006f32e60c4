"""Background training jobs started from the dashboard (no streamlit here; unit-tested).

A job is the ``memamba train`` CLI run with ``subprocess.Popen(start_new_session=True)``:
it has its own process group, so it outlives page navigation, browser reloads
and even the Streamlit server. Its pid, process group, command and start time
are written to ``<run>/.dashboard_job.json`` (hidden, so the run folder stays
a valid run folder); its output goes to ``<run>/.train.log``. Any session
finds jobs again by scanning a runs root for that file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import InputError
from ..paths import atomic_write_text

__all__ = ["JOB_FILE", "LOG_FILE", "Job", "cli", "find", "load", "start", "state", "stop", "tail"]

JOB_FILE = ".dashboard_job.json"
LOG_FILE = ".train.log"


@dataclass
class Job:
    run_dir: str
    pid: int
    pgid: int
    cmd: list[str]
    started: float
    stopped: bool = False
    returncode: int | None = None

    @property
    def log_path(self) -> Path:
        return Path(self.run_dir) / LOG_FILE

    def save(self) -> None:
        atomic_write_text(Path(self.run_dir) / JOB_FILE, json.dumps(asdict(self), indent=2))


def cli() -> list[str]:
    """How to call the ``memamba`` command: the console script if installed, else ``python -m memamba_core.cli``."""
    exe = shutil.which("memamba")
    return [exe] if exe else [sys.executable, "-m", "memamba_core.cli"]


def start(args: list[str], run_dir: str | Path, program: list[str] | None = None) -> Job:
    """Start ``memamba <args>`` writing into ``run_dir`` in its own session; record and return the job.

    InputError when a job recorded in ``run_dir`` is still running.
    """
    run = Path(run_dir).expanduser().resolve()
    old = load(run)
    if old is not None and state(old) == "running":
        raise InputError(f"{run}: a training job (pid {old.pid}) is already running there; stop it or pick another run folder.")
    run.mkdir(parents=True, exist_ok=True)
    cmd = [*(program or cli()), *[str(a) for a in args]]
    with open(run / LOG_FILE, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=str(run))
    job = Job(str(run), proc.pid, os.getpgid(proc.pid), cmd, time.time())
    job.save()
    return job


def load(run_dir: str | Path) -> Job | None:
    """The job recorded in ``run_dir``, or None."""
    f = Path(run_dir).expanduser() / JOB_FILE
    try:
        return Job(**json.loads(f.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _alive(pid: int) -> tuple[bool, int | None]:
    """(running, exit code if we could reap it). Reaps our own exited children (no zombies)."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False, os.waitstatus_to_exitcode(status)
        return True, None
    except ChildProcessError:
        pass  # not our child (started by another server process): look at /proc
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z", None
    except OSError:
        try:
            os.kill(pid, 0)
            return True, None
        except ProcessLookupError:
            return False, None
        except PermissionError:
            return True, None


def state(job: Job) -> str:
    """``running`` | ``stopped`` | ``finished`` (exit 0) | ``failed`` | ``ended`` (exit code unknown)."""
    if job.returncode is None:
        running, code = _alive(job.pid)
        if running:
            return "running"
        if code is not None:
            job.returncode = code
            job.save()
    if job.stopped:
        return "stopped"
    if job.returncode is None:
        return "ended"
    return "finished" if job.returncode == 0 else "failed"


def stop(job: Job, timeout: float = 5.0) -> None:
    """SIGTERM the job's process group, SIGKILL after ``timeout`` s; mark it stopped."""
    job.stopped = True
    job.save()
    try:
        os.killpg(job.pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.time() + timeout
    while time.time() < end:
        if not _alive(job.pid)[0]:
            return
        time.sleep(0.1)
    try:
        os.killpg(job.pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _alive(job.pid)


def find(root: str | Path) -> list[Job]:
    """Jobs recorded in the run folders directly under ``root``, newest first."""
    root = Path(root).expanduser()
    jobs = [j for f in root.glob(f"*/{JOB_FILE}") if (j := load(f.parent)) is not None] if root.is_dir() else []
    return sorted(jobs, key=lambda j: j.started, reverse=True)


def tail(path: str | Path, n: int = 30) -> str:
    """The last ``n`` lines of a text file ('' if missing); progress bars' carriage returns become new lines."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64_000))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [seg for line in text.splitlines() for seg in line.split("\r") if seg.strip()]
    return "\n".join(lines[-n:])
