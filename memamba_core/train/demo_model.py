"""The demo checkpoint: ME-Mamba cross-validated on the demo cohort, built on first use and cached.

``ensure_demo_model(profile)`` returns the run folder
``cache_dir()/demo-<profile>-model`` (next to the demo cohort
``cache_dir()/demo-<profile>``), training it with this project's trainer the
first time. Every patient then has an honest out-of-fold prediction (the fold
model that did not see it); ``load_checkpoint(run_folder)`` gives fold 0.

The demo config is deliberately small so that it trains in minutes on a CPU:
d_model 64, one expert layer, AdamW 1e-3 (weight decay 1e-3) with 8 patients per step, dropout 0.25, 12 epochs, patches
subsampled to 96 per bag in training (the demo's bags hold 106–210), one CPU thread.
Concurrent callers (two dashboard sessions) wait for one another on a lock file.
"""

from __future__ import annotations

import fcntl
from pathlib import Path

from ..paths import cache_dir
from .config import TrainConfig, model_template
from .runfolder import RunFolder

__all__ = ["demo_train_config", "ensure_demo_model", "demo_model_dir"]


def demo_train_config(profile: str = "full") -> TrainConfig:
    """The training recipe of the demo checkpoint (same for every profile except the epoch count)."""
    model = model_template(d_model=64, n_layers=1, dropout=0.25)
    return TrainConfig(
        model=model,
        optimizer="adamw",
        lr=1e-3,
        weight_decay=1e-3,
        epochs=12 if profile == "full" else 3,
        grad_accum=8,
        seed=0,
        max_train_patches=96,
        folds="auto",  # the demo's own splits/ (5 folds, stratified by event)
        eval_every=0,
        num_threads=1,  # one patient at a time: small ops, where more threads only add contention
    )


def demo_model_dir(profile: str = "full") -> Path:
    """Where the demo run folder lives (whether or not it is built yet)."""
    return cache_dir() / f"demo-{profile}-model"


def ensure_demo_model(profile: str = "full", *, progress: bool = False, on_record=None) -> Path:
    """Build (first call) or reuse the demo run folder; returns its path.

    Args:
        profile: the demo cohort profile (``memamba_core.demo.ensure_demo``).
        progress: show a tqdm bar while training.
        on_record: called with each progress record (for a live view).
    """
    from ..data import load_cohort
    from ..demo import ensure_demo
    from .cv import train_cv

    out = demo_model_dir(profile)
    cfg = demo_train_config(profile)
    if _complete(out, cfg.n_folds):
        return out
    with open(cache_dir() / f".demo-{profile}-model.lock", "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # another process may be building it: wait
        try:
            if not _complete(out, cfg.n_folds):
                cohort = load_cohort(ensure_demo(profile), cache_items=100_000)
                train_cv(cohort, cfg, out, progress=progress, on_record=on_record)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return out


def _complete(out: Path, n_folds: int) -> bool:
    return (out / "summary.json").is_file() and len(RunFolder(out).finished_folds()) == n_folds
