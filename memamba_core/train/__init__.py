"""Training: cross-validation into run folders, checkpoints, prediction, ablations, multi-process runs.

Public surface (what the CLI and the dashboard import)::

    TrainConfig, train_cv, train_nested, run_ablations, ablation_grid, evaluate_run, read_progress,
    load_checkpoint, LoadedModel, predict_patient, predict_cohort, check_compatible,
    ensure_demo_model, init_distributed

See ``docs/training.md`` for the run-folder layout and the protocol.
"""

from .._lazy import lazy_getattr
from .checkpoint import LoadedModel, load_checkpoint
from .config import TrainConfig
from .demo_model import demo_train_config, ensure_demo_model
from .distributed import Dist, init_distributed
from .predict import check_compatible, predict_cohort, predict_patient
from .runfolder import read_progress

# Imported on first use: they pull in scikit-survival (~1 s), which loading a model does not need.
_LAZY = {"ablation_grid": "ablate", "run_ablations": "ablate", "train_cv": "cv", "train_nested": "nested", "evaluate_run": "evaluate"}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = [
    "Dist",
    "LoadedModel",
    "TrainConfig",
    "ablation_grid",
    "check_compatible",
    "demo_train_config",
    "ensure_demo_model",
    "evaluate_run",
    "init_distributed",
    "load_checkpoint",
    "predict_cohort",
    "predict_patient",
    "read_progress",
    "run_ablations",
    "train_cv",
    "train_nested",
]
