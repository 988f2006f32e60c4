"""What the dashboard's pages show, as plain Python (no streamlit here; unit-tested).

The pages hold layout only; everything they read, filter, score or format
lives here, import-light (``json`` / ``pandas``; torch, lifelines and
scikit-survival are imported inside the functions that need them):

``run_files``  what the dashboard reads from a run folder, through the run-folder owner
``cards``      Home's tables: the model card, every cohort ↔ model problem, the runtime
``tables``     prediction tables: clinical join, filters, percentiles
``patient``    one patient's prediction as light arrays (what a page caches)
``runs``       progress of a run from its records; the ``memamba train`` arguments
``jobs``       background training jobs started from the dashboard
``clinical``   the Patient page's calibrated prediction (who scores whom) and the Model-quality page's views
"""

from .._lazy import lazy_getattr

_LAZY = {
    "run_files": ("FoldCard", "ablation_table", "fold_card", "oof_predictions", "progress_records", "run_dir_of",
                  "run_stamp", "run_summary", "stamp", "survival_matrix"),
    "cards": ("compatibility_problems", "model_frame", "runtime_frame", "summary_metrics"),
    "tables": ("SEX_CHOICES", "apply_filters", "filter_options", "held_out_default", "percentile_of", "scored_out_of_fold",
               "with_clinical"),
    "patient": ("BagLayout", "PatientResult", "patient_result", "predict_patient_result"),
    "runs": ("run_progress", "train_args"),
    "clinical": ("PatientClinical", "QualityViews", "calibration_stamp", "cohort_km", "missing_modalities", "model_quality",
                 "page_horizons", "parse_horizons", "patient_clinical", "patient_drivers", "patient_report_pdf", "run_calibration"),
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}

__all__ = sorted(_WHERE)

__getattr__ = lazy_getattr(__name__, _WHERE)


def __dir__():
    return __all__
