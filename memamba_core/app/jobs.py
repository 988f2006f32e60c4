"""Background training jobs started from the dashboard (no streamlit here; unit-tested).

A job is the ``memamba train`` CLI run with ``subprocess.Popen(start_new_session=True)``:
it has its own process group, so it outlives page navigation, browser reloads
and even the Streamlit server. Its pid, command, start time and a random
token are written to ``<run>/.dashboard_job.json`` (hidden, so the run folder
stays a valid run folder); its output goes to ``<run>/.train.log``. Any session
finds jobs again by scanning a runs root for that file.

A run folder may come from someone else, so nothing in it is trusted:

* **Processes.** The token is passed to the child in its environment
  (``MEMAMBA_JOB_TOKEN``) and the kernel's start time of the process
  (``/proc/<pid>/stat``) is recorded. A job counts as ours — ``running``, with a
  Stop button — only while the process at that pid has both; a record naming
  any other live process is ``not started here`` and :func:`stop` refuses it.
  The process group killed is read from ``/proc``, never from the record.
* **Files.** Records and logs are read only from run folders directly inside
  the runs root, never through a symbolic link (``O_NOFOLLOW`` on the folder
  and the file, regular files only), and at most :data:`MAX_READ` bytes.
* **Names.** A run name is a plain folder name: letters, digits, ``-``, ``_``,
  ``.`` (not ``.`` or ``..``) — :func:`check_run_name`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import stat as stat_mod
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import InputError
from ..paths import atomic_write_text

__all__ = ["JOB_FILE", "LOG_FILE", "MAX_READ", "NOT_HERE", "TOKEN_ENV", "Job", "check_run_folder", "check_run_name",
           "cli", "find", "load", "log_tail", "owned", "start", "state", "stop", "tail"]

JOB_FILE = ".dashboard_job.json"
LOG_FILE = ".train.log"
TOKEN_ENV = "MEMAMBA_JOB_TOKEN"
NOT_HERE = "not started here"
MAX_READ = 1 << 20  # a job record or the end of a log: never more than 1 MiB read from a run folder
_NAME = re.compile(r"[A-Za-z0-9._-]+")
NAME_RULE = "letters, digits, '-', '_' and '.' only (not '.' or '..'), at most 100 characters"


@dataclass
class Job:
    run_dir: str
    pid: int
    pgid: int
    cmd: list[str]
    started: float
    stopped: bool = False
    returncode: int | None = None
    token: str = field(default="", repr=False)
    start_ticks: int | None = None  # /proc/<pid>/stat field 22 when the job was started

    @property
    def log_path(self) -> Path:
        return Path(self.run_dir) / LOG_FILE

    def save(self) -> None:
        atomic_write_text(Path(self.run_dir) / JOB_FILE, json.dumps(asdict(self), indent=2))


def cli() -> list[str]:
    """How to call the ``memamba`` command: the console script if installed, else ``python -m memamba_core.cli``."""
    exe = shutil.which("memamba")
    return [exe] if exe else [sys.executable, "-m", "memamba_core.cli"]


def check_run_name(name: object) -> str:
    """``name`` (stripped) when it is a plain run-folder name; InputError stating the rule otherwise."""
    s = str(name or "").strip()
    if not s:
        raise InputError(f"Enter a run name ({NAME_RULE}); the run is created inside the runs folder.")
    if not _NAME.fullmatch(s) or s in (".", "..") or len(s) > 100:
        raise InputError(f"Run name {s!r} is not allowed: use {NAME_RULE}. It names one folder inside the runs "
                         "folder (no paths).")
    return s


# --- /proc ------------------------------------------------------------------------------------------------------

def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state letter, process group, start time in clock ticks) of ``pid``, or None when there is no such process."""
    try:
        text = Path(f"/proc/{int(pid)}/stat").read_text()
    except (OSError, ValueError):
        return None
    f = text.rsplit(")", 1)[1].split()  # fields from 3 on (the command name may hold spaces and ')')
    return f[0], int(f[2]), int(f[19])


def _env_token(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{int(pid)}/environ").read_bytes()
    except (OSError, ValueError):
        return None
    key = TOKEN_ENV.encode() + b"="
    for item in raw.split(b"\0"):
        if item.startswith(key):
            return item[len(key):].decode("ascii", "replace")
    return None


def owned(job: Job) -> bool:
    """Whether the process at ``job.pid`` is the one this record started: its start time matches the record and,
    unless it has already exited (a zombie keeps no environment), its environment holds the record's token."""
    if not job.token or job.start_ticks is None:
        return False
    st = _proc_stat(job.pid)
    if st is None or st[2] != job.start_ticks:
        return False
    if st[0] == "Z":
        return True
    got = _env_token(job.pid)
    return got is not None and secrets.compare_digest(got, job.token)


# --- files inside a run folder, never through a link ------------------------------------------------------------

def _read_in(run_dir: str | Path, name: str, limit: int = MAX_READ, tail: bool = False) -> bytes | None:
    """Up to ``limit`` bytes (the last ones when ``tail``) of the regular file ``name`` in ``run_dir``, neither
    followed through a symbolic link; None when absent, a link, or not a regular file."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        dfd = os.open(run_dir, flags | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        fd = os.open(name, flags | os.O_NONBLOCK, dir_fd=dfd)  # non-blocking: a FIFO cannot hang the page
    except OSError:
        return None
    finally:
        os.close(dfd)
    try:
        st = os.fstat(fd)
        if not stat_mod.S_ISREG(st.st_mode):
            return None
        if tail and st.st_size > limit:
            os.lseek(fd, st.st_size - limit, os.SEEK_SET)
        chunks, left = [], limit
        while left > 0:
            b = os.read(fd, min(left, 65536))
            if not b:
                break
            chunks.append(b)
            left -= len(b)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def check_run_folder(root: str | Path, run_dir: str | Path, files: tuple = ()) -> Path:
    """``run_dir`` when it is a real folder directly inside the runs ``root`` and none of ``files`` (paths inside
    it, e.g. from :class:`memamba_core.runs.RunPaths`) is a symbolic link; InputError otherwise."""
    root_p = Path(root).expanduser().resolve()
    run = Path(run_dir).expanduser()
    run = run if run.is_absolute() else root_p / run
    if run.parent.resolve() != root_p or run.name in ("", ".", ".."):
        raise InputError(f"{run}: not a run folder directly inside the runs folder {root_p}.")
    run = root_p / run.name
    if run.is_symlink() or not run.is_dir():
        raise InputError(f"{run}: not a folder (a link or missing); run folders are read only when they are "
                         "plain folders inside the runs folder.")
    for f in files:
        p = Path(f)
        if p.parent != run:
            raise InputError(f"{p}: not a file of the run folder {run}.")
        if p.is_symlink():
            raise InputError(f"{p} is a symbolic link: files of a run folder are not read through links.")
    return run


# --- jobs -------------------------------------------------------------------------------------------------------

def start(args: list[str], run_dir: str | Path, program: list[str] | None = None,
          root: str | Path | None = None) -> Job:
    """Start ``memamba <args>`` writing into ``run_dir`` in its own session; record and return the job.

    ``root`` (the runs folder): ``run_dir`` must then be a plain name inside it (see :func:`check_run_name`).
    InputError when a job recorded in ``run_dir`` is still running, or ``run_dir`` is a symbolic link.
    """
    if root is not None:
        root_p = Path(root).expanduser().resolve()
        name = check_run_name(Path(run_dir).name if Path(run_dir).parent.resolve() == root_p else str(run_dir))
        run = root_p / name
    else:
        run = Path(run_dir).expanduser().absolute()
    if run.is_symlink():
        raise InputError(f"{run} is a symbolic link: a run is created only in a plain folder; choose another name.")
    run = run.resolve()
    old = load(run)
    if old is not None and state(old) == "running":
        raise InputError(f"{run}: a training job (pid {old.pid}) is already running there; stop it or pick another "
                         "run folder.")
    run.mkdir(parents=True, exist_ok=True)
    cmd = [*(program or cli()), *[str(a) for a in args]]
    token = secrets.token_hex(16)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(run / LOG_FILE, flags, 0o644)
    except OSError as err:
        raise InputError(f"{run / LOG_FILE}: cannot write the job's log ({err.strerror}); is it a link?") from err
    with os.fdopen(fd, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=str(run), env={**os.environ, TOKEN_ENV: token})
    st = _proc_stat(proc.pid)
    job = Job(str(run), proc.pid, proc.pid, cmd, time.time(), token=token, start_ticks=None if st is None else st[2])
    job.save()
    return job


def _valid(d: object) -> bool:
    if not isinstance(d, dict):
        return False
    ints = all(isinstance(d.get(k), int) and not isinstance(d.get(k), bool) and d[k] > 0 for k in ("pid", "pgid"))
    cmd = isinstance(d.get("cmd"), list) and all(isinstance(c, str) for c in d["cmd"])
    started = isinstance(d.get("started"), (int, float)) and not isinstance(d.get("started"), bool)
    rc = d.get("returncode") is None or isinstance(d.get("returncode"), int)
    ticks = d.get("start_ticks") is None or isinstance(d.get("start_ticks"), int)
    return ints and cmd and started and rc and ticks and isinstance(d.get("token", ""), str)


def load(run_dir: str | Path) -> Job | None:
    """The job recorded in ``run_dir`` (read without following links), or None. Its ``run_dir`` is the folder it
    was read from, whatever the record says."""
    raw = _read_in(run_dir, JOB_FILE)
    if raw is None:
        return None
    try:
        d = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not _valid(d):
        return None
    d["run_dir"] = str(Path(run_dir).expanduser().absolute())
    try:
        return Job(**d)
    except TypeError:
        return None


def state(job: Job) -> str:
    """``running`` | ``stopped`` | ``finished`` (exit 0) | ``failed`` | ``ended`` (exit code unknown) |
    :data:`NOT_HERE` (the pid is a live process this dashboard did not start: nothing to show or stop)."""
    if job.returncode is None:
        st = _proc_stat(job.pid)
        if st is not None:
            if st[0] != "Z":
                return "running" if owned(job) else NOT_HERE
            # a process that has exited but is not reaped (its /proc command line is gone): only this process's
            # own children can be reaped here, and a pid cannot be reused before it is
            try:
                done, status = os.waitpid(job.pid, os.WNOHANG)
                if done == job.pid:
                    job.returncode = os.waitstatus_to_exitcode(status)
                    job.save()
            except ChildProcessError:
                pass
            if job.returncode is None:
                if not owned(job):
                    return NOT_HERE
                return "stopped" if job.stopped else "ended"
    if job.stopped:
        return "stopped"
    if job.returncode is None:
        return "ended"
    return "finished" if job.returncode == 0 else "failed"


def stop(job: Job, timeout: float = 5.0) -> None:
    """SIGTERM the job's process group, SIGKILL after ``timeout`` s; mark it stopped.

    InputError (nothing signalled) when the process is not one this dashboard started (see :func:`owned`).
    """
    st = _proc_stat(job.pid)
    if st is None:
        job.stopped = True
        job.save()
        return
    if not owned(job):
        raise InputError(f"pid {job.pid} is not a job this dashboard started (its token or start time does not "
                         "match the record): nothing was stopped.")
    pgid = st[1]
    job.stopped = True
    job.save()
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.time() + timeout
    while time.time() < end:
        now = _proc_stat(job.pid)
        if now is None or now[2] != job.start_ticks or now[0] == "Z":  # gone, or exited and waiting to be reaped
            state(job)  # reaps our child and records its exit status
            return
        time.sleep(0.1)
    if owned(job):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    state(job)


def find(root: str | Path) -> list[Job]:
    """Jobs recorded in the run folders directly under ``root`` (links skipped), newest first."""
    root = Path(root).expanduser()
    jobs = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    for e in entries:
        try:
            if e.is_symlink() or not e.is_dir(follow_symlinks=False):
                continue
        except OSError:
            continue
        j = load(e.path)
        if j is not None:
            jobs.append(j)
    return sorted(jobs, key=lambda j: j.started, reverse=True)


def _lines(raw: bytes, n: int) -> str:
    text = raw.decode("utf-8", errors="replace")
    lines = [seg for line in text.splitlines() for seg in line.split("\r") if seg.strip()]
    return "\n".join(lines[-n:])


def log_tail(job: Job, n: int = 30) -> str:
    """The last ``n`` lines of the job's log ('' when missing or a link); progress bars' carriage returns become
    new lines."""
    raw = _read_in(job.run_dir, LOG_FILE, limit=64_000, tail=True)
    return "" if raw is None else _lines(raw, n)


def tail(path: str | Path, n: int = 30) -> str:
    """The last ``n`` lines of the text file ``path`` ('' when missing, a link, or in a linked folder)."""
    p = Path(path)
    raw = _read_in(p.parent, p.name, limit=64_000, tail=True)
    return "" if raw is None else _lines(raw, n)
