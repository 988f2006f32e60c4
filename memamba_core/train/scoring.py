"""Who scores whom: each patient by a fold model that did not train on them, calibrated.

Rule (:meth:`RunModels.who_scores`), by case id, whatever cohort the patient comes from:

- a patient in a fold's validation ids is scored by **that fold's model**
  (out-of-fold: it never trained on them);
- anyone else (another cohort, or a patient in no split) is scored by the
  **ensemble of every fold model whose training ids exclude them** — all of
  them for a genuinely new patient — and the spread across those models is reported;
- a patient every fold model trained on cannot be scored honestly: InputError.

File access to a run folder is one function, :func:`open_fold` (today's
:func:`~memamba_core.train.checkpoint.load_checkpoint`); the run-folder owner
replaces it there. Calibration maps come from :func:`calibrate_run` (the other
folds' out-of-fold predictions) until the trainer stores them per fold.

Example::

    models = RunModels.load("runs/demo")
    maps = calibrate_run(models, cohort)
    score = score_patient(models, cohort, "DEMO-0007")
    pred = clinical_prediction(score, maps)     # pred.horizons, pred.risk_group, pred.scored_by
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import Bag, Cohort
from ..errors import InputError
from ..models import SurvivalOutput
from ..runs import finished_folds
from ..survival.calibration import MIN_AT_RISK, CalibrationMap, fit_cross_fold
from ..survival.clinical_terms import ClinicalPrediction, predict_ensemble, predict_one_model
from .checkpoint import LoadedModel, load_checkpoint
from .predict import predict_cohort, predict_patient

__all__ = [
    "OUT_OF_FOLD",
    "ENSEMBLE",
    "open_fold",
    "RunModels",
    "PatientScore",
    "score_patient",
    "reference_risks",
    "run_oof",
    "calibrate_run",
    "clinical_prediction",
]

OUT_OF_FOLD = "out-of-fold"
ENSEMBLE = "ensemble"


def open_fold(run: str | Path, fold: int) -> LoadedModel:
    """The one place this module reads a run folder: fold ``fold``'s model (eval mode, CPU)."""
    return load_checkpoint(run, fold=fold)


@dataclass
class RunModels:
    """Every finished fold model of a run. ``folds``: fold number → :class:`LoadedModel`."""

    run: Path
    folds: dict[int, LoadedModel]

    @classmethod
    def load(cls, run: str | Path) -> "RunModels":
        """Load all finished folds; InputError when the run has none."""
        path = Path(run).expanduser().resolve()
        ks = finished_folds(path)
        if not ks:
            raise InputError(f"{path}: holds no finished fold; train first with `memamba train`, or give another run folder.")
        return cls(path, {k: open_fold(path, k) for k in ks})

    @property
    def name(self) -> str:
        return self.run.name

    def who_scores(self, case_id: str) -> tuple[str, tuple[int, ...]]:
        """(mode, folds): :data:`OUT_OF_FOLD` and the one fold that validated the patient, or
        :data:`ENSEMBLE` and the folds whose training ids exclude them (module docstring)."""
        for k, m in self.folds.items():
            if case_id in m.val_case_ids and case_id not in m.train_case_ids:
                return OUT_OF_FOLD, (k,)
        free = tuple(k for k, m in self.folds.items() if case_id not in m.train_case_ids)
        if not free:
            raise InputError(f"patient {case_id}: every fold model of run '{self.name}' trained on this patient, so none can "
                             "score them out-of-sample; pick a patient outside the run's training folds.")
        return ENSEMBLE, free


@dataclass(frozen=True)
class PatientScore:
    """One patient's raw scores. ``outputs``: fold → that model's :class:`SurvivalOutput`; ``bag`` the patient's patches (or None)."""

    case_id: str
    mode: str
    outputs: dict[int, SurvivalOutput]
    bag: Bag | None
    run_name: str

    @property
    def folds(self) -> tuple[int, ...]:
        return tuple(sorted(self.outputs))

    @property
    def risks(self) -> dict[int, float]:
        """fold → raw risk (higher = earlier event)."""
        return {k: float(o.risk) for k, o in sorted(self.outputs.items())}

    @property
    def spread(self) -> tuple[float, float]:
        """(lowest, highest) raw risk across the scoring models (equal for one model)."""
        r = list(self.risks.values())
        return min(r), max(r)

    def describe(self) -> str:
        """The sentence the page and the report show."""
        if self.mode == OUT_OF_FOLD:
            return (f"Scored out-of-fold by the fold {self.folds[0]} model of run '{self.run_name}', "
                    "which did not train on this patient.")
        return (f"Scored by the ensemble of {len(self.folds)} fold models of run '{self.run_name}' "
                f"(folds {', '.join(map(str, self.folds))}), none of which trained on this patient.")


def score_patient(models: RunModels, cohort: Cohort, case_id: str) -> PatientScore:
    """Score ``case_id`` of ``cohort`` with the model(s) :meth:`RunModels.who_scores` names.

    Raises:
        InputError: unknown patient, a patient with none of the modalities the model uses,
        a cohort the models cannot read, or a patient every fold trained on.
    """
    cohort.patient(case_id)
    mode, folds = models.who_scores(case_id)
    outputs, bag = {}, None
    for k in folds:
        out, b = predict_patient(models.folds[k], cohort, case_id)
        outputs[k] = out
        bag = bag if bag is not None else b
    return PatientScore(case_id, mode, outputs, bag, models.name)


def reference_risks(loaded: LoadedModel, cohort: Cohort) -> np.ndarray:
    """(R,) the fold model's risks of its own training patients (the scale of its scale-free score)."""
    ids = [c for c in loaded.train_case_ids if c in set(cohort.case_ids())]
    if len(ids) < 2:
        raise InputError(f"fold {loaded.fold}: fewer than 2 of its training patients are in cohort '{cohort.name}'; "
                         "calibrate with the cohort the run was trained on.")
    return predict_cohort(loaded, cohort, ids)["risk"].to_numpy(float)


def run_oof(models: RunModels, cohort: Cohort) -> pd.DataFrame:
    """The run's out-of-fold frame (``case_id, fold, risk, survival_months, censorship``), each fold model on its validation ids."""
    frames = []
    for k, m in models.folds.items():
        df = predict_cohort(m, cohort, [c for c in m.val_case_ids if c in set(cohort.case_ids())])
        frames.append(df[["case_id", "risk", "survival_months", "censorship"]].assign(fold=k))
    return pd.concat(frames, ignore_index=True)


def calibrate_run(models: RunModels, cohort: Cohort, oof: pd.DataFrame | None = None, *,
                  min_at_risk: int = MIN_AT_RISK) -> dict[int, CalibrationMap]:
    """fold → calibration map from the other folds' out-of-fold predictions (see
    :func:`~memamba_core.survival.calibration.fit_cross_fold`). ``oof``: the run's
    out-of-fold frame (default: recomputed by :func:`run_oof`). Needs every fold finished."""
    oof = run_oof(models, cohort) if oof is None else oof
    refs = {k: reference_risks(m, cohort) for k, m in models.folds.items()}
    return fit_cross_fold(oof["risk"], oof["fold"], oof["survival_months"], 1 - oof["censorship"].to_numpy(int), refs,
                          min_at_risk=min_at_risk)


def clinical_prediction(score: PatientScore, maps: dict[int, CalibrationMap], *, horizons=None, n_boot: int = 200,
                        seed: int = 0) -> ClinicalPrediction:
    """The patient's prediction in clinical terms: one fold's map (out-of-fold) or the ensemble of maps."""
    if score.mode == OUT_OF_FOLD:
        k = score.folds[0]
        if k not in maps:
            raise InputError(f"fold {k} has no calibration map; calibrate the run first.")
        return predict_one_model(maps[k], score.risks[k], horizons=horizons, scored_by=score.describe(), fold=k,
                                 n_boot=n_boot, seed=seed)
    return predict_ensemble({k: maps[k] for k in score.folds if k in maps}, score.risks, horizons=horizons,
                            scored_by=score.describe())
