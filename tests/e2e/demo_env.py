"""The tiny demo cohort + its demo checkpoint, built once per test session into a pytest temp folder.

Both the AppTest tests and the real-browser tests use it; the dashboard finds
it through ``MEMAMBA_CACHE`` (and ``MEMAMBA_DEMO_PROFILE=tiny``).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

PROFILE = "tiny"
_BUILT: dict[str, tuple[str, str]] = {}


@contextmanager
def cache_env(root: Path):
    """Temporarily point ``MEMAMBA_CACHE`` at ``root`` (and the demo profile at tiny)."""
    old = {k: os.environ.get(k) for k in ("MEMAMBA_CACHE", "MEMAMBA_DEMO_PROFILE")}
    os.environ.update(MEMAMBA_CACHE=str(root), MEMAMBA_DEMO_PROFILE=PROFILE)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def tiny_demo(root: Path) -> tuple[str, str]:
    """Build (once per process) the tiny demo cohort and demo model under ``root``; (cohort path, model path)."""
    key = str(root)
    if key not in _BUILT:
        from memamba_core.demo import ensure_demo
        from memamba_core.train import ensure_demo_model

        root.mkdir(parents=True, exist_ok=True)
        with cache_env(root):
            cohort = ensure_demo(PROFILE)
            model = ensure_demo_model(PROFILE)
        _BUILT[key] = (str(cohort), str(model))
    return _BUILT[key]


def env(root: Path) -> dict[str, str]:
    """Environment variables for a dashboard process using the demo under ``root``."""
    return {"MEMAMBA_CACHE": str(root), "MEMAMBA_DEMO_PROFILE": PROFILE}
