"""The run folder: the one owner of its file names, schemas, readers and atomic writers.

What a run folder holds is listed in :mod:`.layout` (the only module that spells
the file names); :mod:`.records` types the JSON records (run record, fold meta,
nested selection), :mod:`.predictions` the prediction tables and their ``S_k``
survival columns, :mod:`.ablations` the ablation table and where it lives,
:mod:`.calibration` the run's calibration maps and calibrated out-of-fold table,
:mod:`.read` the readers, :mod:`.folder` the writer (:class:`RunFolder`: lock,
resume, progress log, rebuild of the run outputs), :mod:`.weights` the fold
weights (safetensors).

Importing this package loads neither torch nor lifelines nor scikit-survival
(only json, numpy, pandas): the dashboard reads out-of-fold predictions and
summaries through it at start-up. The weights functions import torch on first use.

Example::

    from memamba_core.runs import read_oof, read_summary, finished_folds, ablation_table
    oof = read_oof("runs/demo")          # Predictions: frame, survival (n, K), cuts per fold
    oof.frame.head(); oof.survival.shape; oof.cuts[0]
"""

from .._lazy import lazy_getattr
from .calibration import (RunCalibration, calibration_state, read_calibrated_oof, read_calibration, write_calibrated_oof,
                          write_calibration)
from .ablations import ablation_row, ablation_table, read_ablation_table, write_ablation_table
from .folder import RunFolder, write_acceptance, write_demo_spec, write_fold_meta
from .layout import FoldPaths, RunPaths, file_names, fold_number, is_run_folder
from .predictions import (Predictions, parse_predictions, prediction_frame, read_predictions_csv, survival_column_names,
                          survival_columns, write_predictions_csv)
from .read import (finished_folds, fold_done, fold_metas, locate_fold, read_acceptance, read_demo_spec, read_fold_meta, read_fold_predictions,
                   read_oof, read_progress, read_run_record, read_selection, read_summary, run_kind)
from .records import META_FORMAT, RUN_FORMAT, FoldMeta, RunRecord, Selection

__getattr__ = lazy_getattr(__name__, {"read_weights": "weights", "write_weights": "weights"})

__all__ = [
    "FoldMeta",
    "FoldPaths",
    "META_FORMAT",
    "Predictions",
    "RUN_FORMAT",
    "RunFolder",
    "RunCalibration",
    "RunPaths",
    "is_run_folder",
    "RunRecord",
    "Selection",
    "ablation_row",
    "ablation_table",
    "calibration_state",
    "file_names",
    "finished_folds",
    "fold_done",
    "fold_metas",
    "fold_number",
    "locate_fold",
    "parse_predictions",
    "prediction_frame",
    "read_ablation_table",
    "read_calibrated_oof",
    "read_calibration",
    "read_acceptance",
    "read_demo_spec",
    "read_fold_meta",
    "read_fold_predictions",
    "read_oof",
    "read_predictions_csv",
    "read_progress",
    "read_run_record",
    "read_selection",
    "read_summary",
    "read_weights",
    "run_kind",
    "survival_column_names",
    "survival_columns",
    "write_ablation_table",
    "write_acceptance",
    "write_calibrated_oof",
    "write_calibration",
    "write_demo_spec",
    "write_fold_meta",
    "write_predictions_csv",
    "write_weights",
]
