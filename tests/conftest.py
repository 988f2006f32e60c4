"""Fixtures shared by the dashboard tests (AppTest and the real browser): the tiny demo and a light checkpoint."""

from __future__ import annotations

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
