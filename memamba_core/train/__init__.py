"""Training: cross-validation into run folders, checkpoints, prediction, ablations, multi-process runs.

Public surface (what the CLI and the dashboard import)::

    TrainConfig, train_cv, train_nested, run_ablations, ablation_grid, evaluate_run, read_progress,
    load_checkpoint, LoadedModel, predict_patient, predict_cohort, check_compatible,
    Problem, Needs, compatibility_problems, require_compatible, ensure_demo_model, init_distributed

The run folder's files and formats belong to :mod:`memamba_core.runs` (``read_progress`` is
re-exported from there); see ``docs/training.md`` for the protocol.
"""

from .._lazy import lazy_getattr
from ..runs import read_progress
from .compat import Needs, Problem, compatibility_problems, require_compatible
from .config import TrainConfig
from .demo_model import demo_train_config, ensure_demo_model

# Imported on first use: checkpoints, prediction and multi-process training pull in torch, and
# cross-validation, ablations and evaluation scikit-survival (~1 s) — reading a run or checking a
# cohort against a fold's meta record (the dashboard's Home) needs neither.
_LAZY = {"LoadedModel": "checkpoint", "load_checkpoint": "checkpoint", "Dist": "distributed",
         "init_distributed": "distributed", "check_compatible": "predict", "predict_cohort": "predict",
         "predict_patient": "predict", "ablation_grid": "ablate", "run_ablations": "ablate", "train_cv": "cv",
         "train_nested": "nested", "evaluate_run": "evaluate"}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = [
    "Dist",
    "LoadedModel",
    "Needs",
    "Problem",
    "TrainConfig",
    "ablation_grid",
    "check_compatible",
    "compatibility_problems",
    "demo_train_config",
    "ensure_demo_model",
    "evaluate_run",
    "init_distributed",
    "load_checkpoint",
    "predict_cohort",
    "predict_patient",
    "read_progress",
    "require_compatible",
    "run_ablations",
    "train_cv",
    "train_nested",
]
