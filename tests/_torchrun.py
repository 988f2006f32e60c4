"""Launch a command under torchrun (``python -m torch.distributed.run --standalone``) from a test.

A clean distributed environment (no inherited ``RANK``/``WORLD_SIZE``/…) and one OpenMP
thread per process, so results do not depend on the machine's core count.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_DIST_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT",
             "TORCHELASTIC_RUN_ID")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without torchrun's variables, with ``OMP_NUM_THREADS=1`` and ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _DIST_ENV}
    env["OMP_NUM_THREADS"] = "1"
    env.update(extra)
    return env


def torchrun_command(target: list[str], nproc: int = 2) -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc_per_node N TARGET…`` as an argv list.

    ``target``: ``["-m", "memamba_core.cli", "train", …]`` or ``[script.py, args…]``.
    """
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc), *target]


def torchrun(target: list[str], nproc: int = 2, timeout: float = 400, **env: str) -> subprocess.CompletedProcess:
    """Run :func:`torchrun_command` to the end; returns the CompletedProcess (text stdout/stderr)."""
    return subprocess.run(torchrun_command(target, nproc), capture_output=True, text=True, timeout=timeout,
                          env=clean_env(**env))


def memamba(args: list[str], timeout: float = 400, **env: str) -> subprocess.CompletedProcess:
    """``python -m memamba_core.cli ARGS`` in one fresh process with the same clean environment."""
    return subprocess.run([sys.executable, "-m", "memamba_core.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=clean_env(**env))


def worker_pid(parent: int, rank: int) -> int | None:
    """The pid of torchrun's worker process with ``RANK=rank`` (a child of the launcher ``parent``), once it runs."""
    kids = Path(f"/proc/{parent}/task/{parent}/children")
    for pid in kids.read_text().split() if kids.exists() else []:
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in env:
            return int(pid)
    return None


def kill_rank_when(cmd: list[str], ready, rank: int = 1, what: str = "the run", timeout: float = 300) -> int:
    """Start ``cmd`` (a torchrun command), SIGKILL its worker ``rank`` as soon as ``ready()`` is true, and wait for the
    launcher; returns its exit status. Fails when ``cmd`` ends before ``ready()`` (``what`` names the awaited state)."""
    import signal
    import time

    proc = subprocess.Popen(cmd, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            assert proc.poll() is None and time.monotonic() < deadline, f"the command ended before {what}"
            time.sleep(0.05)
        victim = worker_pid(proc.pid, rank)
        assert victim is not None, f"no torchrun worker with RANK={rank}"
        os.kill(victim, signal.SIGKILL)
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode
