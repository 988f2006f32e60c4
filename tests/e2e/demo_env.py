"""The tiny demo cohort and a light checkpoint trained on it, built once per test session (pytest temp folder).

The AppTest tests and the real-browser tests share it. The checkpoint is a
real cross-validated run of this project's trainer (the demo recipe with one
epoch, three folds and fewer patches, so that it trains in seconds); the
dashboard gets it as its default model through ``MEMAMBA_DEFAULT_MODEL``, and
the demo cohort through ``MEMAMBA_CACHE`` + ``MEMAMBA_DEMO_PROFILE=tiny``.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from memamba_core.runs import RunPaths

PROFILE = "tiny"
_BUILT: dict[str, tuple[str, str]] = {}


@contextmanager
def cache_env(root: Path):
    """Temporarily point ``MEMAMBA_CACHE`` at ``root``."""
    old = os.environ.get("MEMAMBA_CACHE")
    os.environ["MEMAMBA_CACHE"] = str(root)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MEMAMBA_CACHE", None)
        else:
            os.environ["MEMAMBA_CACHE"] = old


def tiny_demo(root: Path) -> tuple[str, str]:
    """(cohort folder, run folder) under ``root``, built once per process."""
    key = str(root)
    if key not in _BUILT:
        from memamba_core.data import load_cohort
        from memamba_core.demo import ensure_demo
        from memamba_core.train import demo_train_config, train_cv

        root.mkdir(parents=True, exist_ok=True)
        with cache_env(root):
            cohort = ensure_demo(PROFILE, workers=2)  # the same bytes as one process (tests/test_demo_start.py)
        run = root / "light-model"
        if not RunPaths(run).summary.is_file():
            import torch

            threads = torch.get_num_threads()
            cfg = replace(demo_train_config(PROFILE), epochs=1, n_folds=3, max_train_patches=64, num_threads=1)
            try:
                train_cv(load_cohort(cohort), cfg, run, progress=False)
            finally:
                torch.set_num_threads(threads)
        _BUILT[key] = (str(cohort), str(run))
    return _BUILT[key]


def env(root: Path) -> dict[str, str]:
    """Environment of a dashboard process using the session's demo under ``root``."""
    cohort, run = tiny_demo(root)
    return {"MEMAMBA_CACHE": str(root), "MEMAMBA_DEMO_PROFILE": PROFILE, "MEMAMBA_DEFAULT_MODEL": run,
            "MEMAMBA_THREADS": "1"}
