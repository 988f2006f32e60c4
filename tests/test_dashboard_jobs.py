"""Training jobs from a run folder made by someone else: only the dashboard's own processes, only its own files.

A job record naming another process gets no Stop (and that process survives);
logs, records and run folders are never read through symbolic links; run names
are plain folder names. The happy path (start, log, stop, exit codes) is
tests/test_app.py::test_job_lifecycle and tests/test_dashboard.py::test_train_page_start_and_stop.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from memamba_core.app import jobs
from memamba_core.errors import InputError
from memamba_core.runs import RunPaths

HOME = str(Path(__file__).resolve().parents[1] / "dashboard" / "Home.py")
PY = [sys.executable, "-c"]


@pytest.fixture()
def victim():
    """A live process this dashboard did not start (a plain ``sleep``)."""
    proc = subprocess.Popen(["sleep", "120"])
    yield proc
    proc.kill()
    proc.wait()


def _forge(run: Path, pid: int, **extra) -> Path:
    run.mkdir(parents=True, exist_ok=True)
    rec = {"run_dir": "/somewhere/else", "pid": pid, "pgid": pid, "cmd": ["memamba", "train"], "started": time.time(),
           **extra}
    (run / jobs.JOB_FILE).write_text(json.dumps(rec))
    return run


def _ticks(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])


@pytest.mark.parametrize("extra", [
    {},                                              # an old-style record: no token, no start time
    {"token": "0" * 32},                             # a token the process does not hold
    {"token": "0" * 32, "start_ticks": "own"},       # the right start time (readable in /proc) but no token
])
def test_a_record_naming_another_process_is_not_ours(tmp_path, victim, extra):
    if extra.get("start_ticks") == "own":
        extra = {**extra, "start_ticks": _ticks(victim.pid)}
    job = jobs.load(_forge(tmp_path / "r", victim.pid, **extra))
    assert job is not None and job.run_dir == str(tmp_path / "r")  # the folder it was read from, not the record's
    assert jobs.state(job) == jobs.NOT_HERE and not jobs.owned(job)
    with pytest.raises(InputError, match="not a job this dashboard started"):
        jobs.stop(job, timeout=1)
    time.sleep(0.2)
    assert victim.poll() is None  # still running, not reaped by the dashboard either
    assert jobs.state(job) == jobs.NOT_HERE


def test_own_job_is_owned_and_a_stale_start_time_is_not(tmp_path):
    job = jobs.start(["import time; time.sleep(60)"], tmp_path / "mine", program=PY)
    try:
        assert jobs.owned(job) and jobs.state(job) == "running"
        rec = json.loads((tmp_path / "mine" / jobs.JOB_FILE).read_text())
        assert rec["token"] and rec["start_ticks"] == _ticks(job.pid)
        forged = jobs.Job(**{**rec, "start_ticks": rec["start_ticks"] - 1})  # a reused pid: another start time
        assert jobs.state(forged) == jobs.NOT_HERE
        with pytest.raises(InputError):
            jobs.stop(forged, timeout=1)
        assert jobs.state(job) == "running"
    finally:
        jobs.stop(job, timeout=5)
    assert jobs.state(jobs.load(tmp_path / "mine")) == "stopped"


def test_logs_and_records_are_not_read_through_links(tmp_path):
    root = tmp_path / "runs"
    run = root / "r1"
    run.mkdir(parents=True)
    (run / jobs.LOG_FILE).symlink_to("/etc/passwd")
    job = jobs.Job(str(run), 1, 1, ["x"], time.time())
    assert jobs.log_tail(job) == "" and jobs.tail(run / jobs.LOG_FILE) == ""
    assert "root:" in Path("/etc/passwd").read_text()  # the link does point at something readable

    other = tmp_path / "elsewhere"
    _forge(other, 1)
    (root / "linked").symlink_to(other, target_is_directory=True)
    assert jobs.load(root / "linked") is None  # a linked run folder is not read
    assert [j.run_dir for j in jobs.find(root)] == []
    (run / jobs.JOB_FILE).symlink_to(other / jobs.JOB_FILE)
    assert jobs.load(run) is None  # nor a linked record

    (root / "real").mkdir()
    (root / "real" / jobs.LOG_FILE).write_text("line 1\nline 2\rline 3\n")
    assert jobs.tail(root / "real" / jobs.LOG_FILE) == "line 1\nline 2\nline 3"
    fifo = root / "real" / "fifo.log"
    os.mkfifo(fifo)
    assert jobs.tail(fifo) == ""  # a FIFO is not a regular file: no hang

    with pytest.raises(InputError, match="symbolic link"):
        jobs.check_run_folder(root, run, (run / jobs.LOG_FILE,))
    with pytest.raises(InputError, match="link or missing"):
        jobs.check_run_folder(root, root / "linked")
    with pytest.raises(InputError, match="directly inside"):
        jobs.check_run_folder(root, other)
    assert jobs.check_run_folder(root, "real") == (root / "real").resolve()


def test_start_refuses_a_linked_run_folder_and_a_linked_log(tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    (root / "lnk").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(InputError, match="symbolic link"):
        jobs.start(["print(1)"], root / "lnk", program=PY, root=root)
    (root / "r").mkdir()
    target = tmp_path / "victim.txt"
    target.write_text("keep me\n")
    (root / "r" / jobs.LOG_FILE).symlink_to(target)
    with pytest.raises(InputError, match="log"):
        jobs.start(["print(1)"], root / "r", program=PY, root=root)
    assert target.read_text() == "keep me\n"


@pytest.mark.parametrize("name", ["../x", "/abs", "", "  ", ".", "..", "a/b", "a b", "x;rm", "é", "a" * 101])
def test_bad_run_names_are_refused_with_the_rule(name, tmp_path):
    with pytest.raises(InputError, match="letters, digits") as err:
        jobs.check_run_name(name)
    assert "run" in str(err.value).lower()
    root = tmp_path / "runs"
    with pytest.raises(InputError, match="letters, digits"):
        jobs.start(["print(1)"], root / name, program=PY, root=root)
    assert not (tmp_path / "x").exists() and not Path("/abs").exists() and not root.exists()


@pytest.mark.parametrize("name", ["run-1", "r_2.v3", "A.b-c_d", ".hidden-ok"])
def test_plain_run_names_are_kept(name):
    assert jobs.check_run_name(f" {name} ") == name


# --- the Train page ---------------------------------------------------------------------------------------------

def _page(runs: Path) -> AppTest:
    at = AppTest.from_file(HOME, default_timeout=180)
    at.switch_page("app_pages/5_Train_evaluate.py")
    at.run()
    at.text_input(key="tr_root").input(str(runs)).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_train_page_shows_no_stop_for_a_process_it_did_not_start(app_env, tmp_path, victim):
    runs = tmp_path / "runs"
    run = _forge(runs / "foreign", victim.pid, token="f" * 32, start_ticks=_ticks(victim.pid))
    rp = RunPaths(run)
    (run / jobs.LOG_FILE).symlink_to("/etc/passwd")
    at = _page(runs)
    assert at.selectbox(key="tr_sel").value.endswith("foreign")
    assert any(jobs.NOT_HERE in o for o in at.selectbox(key="tr_sel").options), at.selectbox(key="tr_sel").options
    assert not [b for b in at.button if b.key == "tr_stop"]
    assert any("not a job this dashboard started" in w.value for w in at.warning)
    assert all("root:" not in c.value for c in at.code)
    assert victim.poll() is None
    rp.progress.symlink_to("/etc/passwd")
    at = _page(runs)
    assert any("symbolic link" in e.value for e in at.error)
    assert victim.poll() is None


def test_train_page_refuses_bad_run_names(app_env, tmp_path):
    runs = tmp_path / "runs"
    for bad in ("../x", str(tmp_path / "abs"), ""):
        at = _page(runs)
        at.text_input(key="tr_name").input(bad)
        next(b for b in at.button if b.label == "Start training").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.error and "letters, digits" in at.error[0].value, [e.value for e in at.error]
    assert not (tmp_path / "x").exists() and not (tmp_path / "abs").exists()
    assert not runs.exists() or not any(runs.iterdir())
