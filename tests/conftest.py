"""Fixtures shared by the dashboard tests (AppTest and the real browser): the tiny demo and a light checkpoint;
and the session's input-integrity check (tests/_integrity.py): the real cohorts, assets/ and the tracked
tree must be byte-identical after the last test, else the session fails naming the files."""

from __future__ import annotations

import os

import pytest
import torch

from tests.e2e.demo_env import env, tiny_demo


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory):
    """A cache folder holding the tiny demo and a light cross-validated checkpoint on it (built once per session)."""
    root = tmp_path_factory.getbasetemp() / "memamba_dashboard_cache"
    tiny_demo(root)
    return root


@pytest.fixture()
def app_env(demo_root, monkeypatch):
    """The dashboard's environment for in-process AppTests (one torch thread: small bags, a shared CI machine)."""
    for k, v in env(demo_root).items():
        if k != "MEMAMBA_THREADS":
            monkeypatch.setenv(k, v)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield env(demo_root)
    torch.set_num_threads(threads)


# ---- input integrity (issue 14) --------------------------------------------------------------------
def pytest_sessionstart(session):
    from tests import _integrity

    if not os.environ.get(_integrity.SKIP_ENV) and not hasattr(session.config, "workerinput"):
        session.config._memamba_inputs = _integrity.snapshot()


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_memamba_inputs", None)
    if before is None:
        return
    from tests import _integrity

    lines = _integrity.changes(before, _integrity.snapshot())
    if lines:
        rep = session.config.pluginmanager.get_plugin("terminalreporter")
        msg = (f"input integrity: {len(lines)} input file(s) changed during the test session (cohort data, assets/ "
               f"or the tracked tree must stay byte-identical):\n  " + "\n  ".join(lines[:50]))
        if rep is not None:
            rep.write_sep("=", "input integrity check failed", red=True)
            rep.write_line(msg)
        else:
            print(msg)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
