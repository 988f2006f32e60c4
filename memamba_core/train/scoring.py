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
folds' out-of-fold predictions); :func:`calibrate_and_store` fits them once and
stores them with the run (``memamba train`` after the last fold, ``memamba
calibrate`` for an existing run), :func:`stored_maps` reads them back.

Example::

    models = RunModels.load("runs/demo")
    maps = stored_maps(models.run)             # or calibrate_run(models, cohort)
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
from ..runs import (RunFolder, finished_folds, fold_metas, read_calibration, read_oof, read_run_record, read_summary, run_kind,
                    write_calibrated_oof, write_calibration)
from ..runs.calibration import monthly_columns
from ..survival.calibration import MIN_AT_RISK, CalibrationMap, fit_cross_fold
from ..survival.clinical_terms import (ClinicalPrediction, automatic_horizons, predict_ensemble, predict_one_model,
                                      resolve_horizons, risk_group)
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
    "calibration_min_at_risk",
    "calibrated_oof_frame",
    "calibrate_and_store",
    "calibrate_stored",
    "calibrated_quality",
    "calibrate_nested",
    "calibrate_finished",
    "stored_maps",
    "CROSS_FOLD_SOURCE",
    "clinical_row",
    "clinical_table",
]

CROSS_FOLD_SOURCE = "the other folds' out-of-fold predictions"

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
    return _cross_fold(oof, {k: reference_risks(m, cohort) for k, m in models.folds.items()}, min_at_risk)


def _cross_fold(oof: pd.DataFrame, refs: dict[int, np.ndarray], min_at_risk: int) -> dict[int, CalibrationMap]:
    """The cross-fold maps, after checking that no patient is validated in two folds (else fold k's sample would hold
    patients fold k scores)."""
    twice = oof["case_id"].astype(str)
    twice = sorted(set(twice[twice.duplicated()]))
    if twice:
        raise InputError(f"calibration: patient(s) {', '.join(twice[:5])}{' …' if len(twice) > 5 else ''} are validation "
                         "patients of more than one fold; the other folds' predictions are not training patients of a fold "
                         "then — calibrate only runs whose validation folds do not overlap.")
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


def calibration_min_at_risk(oof_fold) -> int:
    """Patients still at risk a horizon needs, for a run whose folds are ``oof_fold`` (P,).

    :data:`~memamba_core.survival.calibration.MIN_AT_RISK` (10) when every fold's
    calibration sample (the other folds' patients) has at least 3 × 10 patients;
    a third of the smallest sample (at least 3) for a small cohort, where 10 at
    risk would leave no horizon at all. The value used is stored with the maps.
    """
    f = np.asarray(oof_fold).reshape(-1).astype(int)
    smallest = min(int((f != k).sum()) for k in set(f.tolist()))
    return MIN_AT_RISK if smallest >= 3 * MIN_AT_RISK else max(3, smallest // 3)


def calibrated_oof_frame(oof: pd.DataFrame, maps: dict[int, CalibrationMap]) -> pd.DataFrame:
    """Each out-of-fold patient's calibrated monthly survival through their own fold's map, percentile and risk group.

    Columns: ``case_id, fold, risk, survival_months, censorship, percentile, risk_group, surv_0m … surv_<M>m``
    (M: the longest supported follow-up among the maps; NaN beyond the patient's fold map's ``horizon_limit``).
    """
    months = np.arange(0.0, np.floor(max(m.horizon_limit for m in maps.values())) + 1.0)
    cols = monthly_columns(months.size)
    rows = []
    for k in sorted(set(oof["fold"].astype(int).tolist())):
        part = oof[oof["fold"].astype(int) == k]
        m = maps[k]
        risk = part["risk"].to_numpy(float)
        surv = m.survival(risk, months)
        surv[:, months > m.horizon_limit] = np.nan
        pct = m.percentile(risk)
        df = part[["case_id", "fold", "risk", "survival_months", "censorship"]].reset_index(drop=True)
        df["percentile"] = pct
        df["risk_group"] = [risk_group(p) for p in pct]
        rows.append(pd.concat([df, pd.DataFrame(surv, columns=cols)], axis=1))
    return pd.concat(rows, ignore_index=True)


def calibrate_and_store(run: str | Path, cohort: Cohort, *, min_at_risk: int | None = None,
                        models: RunModels | None = None) -> dict[int, CalibrationMap]:
    """Fit every fold's calibration map and store it with the run (with the calibrated out-of-fold table).

    The maps come from the run's stored out-of-fold predictions (:func:`calibrate_run`:
    fold k's map on the other folds' validation patients — all training patients of
    fold k, each scored by a model that did not train on them); each fold model's
    reference risks are recomputed on its own training patients of ``cohort``.

    Raises:
        InputError: an unfinished fold, a cohort without the run's training patients, or too small a sample.
    """
    models = models or RunModels.load(run)
    record = read_oof(models.run)
    if record is None:
        raise InputError(f"{models.run}: has no out-of-fold predictions; train the run first (`memamba train`).")
    oof = record.frame
    missing = sorted(set(models.folds) - set(oof["fold"].astype(int).tolist()))
    if missing or len(models.folds) < 2:
        raise InputError(f"{models.run}: calibration needs every fold finished (≥ 2); fold(s) {missing or 'other than one'} "
                         "missing — finish the run with `memamba train` first.")
    n_at_risk = calibration_min_at_risk(oof["fold"]) if min_at_risk is None else int(min_at_risk)
    maps = calibrate_run(models, cohort, oof, min_at_risk=n_at_risk)
    write_calibrated_oof(models.run, calibrated_oof_frame(oof, maps))
    write_calibration(models.run, maps, source=CROSS_FOLD_SOURCE, min_at_risk=n_at_risk)
    return maps


def calibrate_stored(run: str | Path, *, min_at_risk: int | None = None) -> dict[int, CalibrationMap]:
    """:func:`calibrate_and_store` for a nested run (``memamba benchmark`` cells, :func:`~.nested.train_nested`),
    which keeps no weights: each fold's reference risks come from its selection record
    (:attr:`~memamba_core.runs.Selection.reference_risk`, kept when the fold was trained).

    Raises:
        InputError: not a nested run, an unfinished fold, a fold trained before reference risks were kept
        (retrain it), or too small a sample.
    """
    if run_kind(run) != "nested":
        raise InputError(f"{run}: not a nested run; calibrate a cross-validated run from its weights (`memamba calibrate RUN COHORT`).")
    record, oof = read_run_record(run), read_oof(run)
    n_folds = record.n_folds if record is not None else 0
    selections = fold_metas(run)
    if oof is None or n_folds < 2 or sorted(selections) != list(range(n_folds)):
        raise InputError(f"{run}: calibration needs every fold finished (≥ 2); finished: {sorted(selections)} of {n_folds}.")
    old = sorted(k for k, sel in selections.items() if len(sel.reference_risk) < 2)
    if old:
        raise InputError(f"{run}: fold(s) {', '.join(map(str, old))} were trained before reference risks were kept; "
                         "rerun them (the same command with --force) to calibrate this run.")
    n_at_risk = calibration_min_at_risk(oof.frame["fold"]) if min_at_risk is None else int(min_at_risk)
    maps = _cross_fold(oof.frame, {k: np.asarray(sel.reference_risk, float) for k, sel in selections.items()}, n_at_risk)
    write_calibrated_oof(run, calibrated_oof_frame(oof.frame, maps))
    write_calibration(run, maps, source=CROSS_FOLD_SOURCE, min_at_risk=n_at_risk)
    return maps


def calibrated_quality(run: str | Path, maps: dict[int, CalibrationMap], cohort: Cohort | None = None) -> dict:
    """The run's calibrated out-of-fold quality as plain JSON: IBS of the calibrated curves against the
    Kaplan–Meier null per fold and in the mean, with the gain's paired bootstrap interval
    (:func:`~memamba_core.survival.quality.brier_vs_null`, :func:`~memamba_core.survival.quality.brier_record`).

    Censoring weights and the null come from each fold's training patients: those of the run record, with their
    outcomes from ``cohort``; without a cohort, the other folds' validation patients (the same for folds that
    partition the cohort)."""
    from ..survival.quality import brier_record, brier_vs_null, calibrated_oof

    train = None
    if cohort is not None:
        folds = read_run_record(run).folds
        train = {}
        for k in maps:
            pts = [cohort.patient(c) for c in folds[k]["train"]]
            train[k] = (np.array([p.survival_months for p in pts], float), np.array([1 - p.censorship for p in pts], int))
    return {"source": CROSS_FOLD_SOURCE, **brier_record(brier_vs_null(calibrated_oof(read_oof(run).frame, maps), train))}


def calibrate_nested(run: str | Path, cohort: Cohort | None = None, summary: dict | None = None) -> tuple[dict, dict]:
    """Calibrate a finished nested run (:func:`calibrate_stored`) and write its summary again with ``calibrated``
    (:func:`calibrated_quality`, with ``cohort``'s training outcomes); ``summary``: the one to extend (default: the
    run's own). Returns (fold → map, the new summary); InputError as :func:`calibrate_stored`."""
    maps = calibrate_stored(run)
    base = (read_summary(run) or {}) if summary is None else summary
    summary = {**base, "calibrated": calibrated_quality(run, maps, cohort)}
    RunFolder(run, kind="nested").write_summary(summary)
    return maps, summary


def calibrate_finished(run, summary: dict, log, cohort: Cohort | None = None) -> dict:
    """A nested run with every fold finished, at the end of its training: :func:`calibrate_nested`. ``run``: its
    :class:`~memamba_core.runs.RunFolder`; ``log``: called with the progress record. A run that cannot be
    calibrated (too small a sample, a model that gives everyone the same score) has not failed: the progress
    record and the summary's ``calibrated: {"error": …}`` say why."""
    try:
        maps, summary = calibrate_nested(run.path, cohort, summary)
    except (InputError, ValueError, np.linalg.LinAlgError) as err:
        log({"event": "calibration", "ok": False, "error": str(err)})
        summary = {**summary, "calibrated": {"error": str(err)}}
        run.write_summary(summary)
        return summary
    mean = summary["calibrated"]["mean"]
    log({"event": "calibration", "ok": True, "folds": sorted(maps), "ibs_model": mean["ibs_model"], "ibs_km": mean["ibs_km"]})
    return summary


def stored_maps(run: str | Path) -> dict[int, CalibrationMap] | None:
    """The run's stored calibration maps (fold → map), or None when the run has none; InputError when damaged or stale."""
    cal = read_calibration(run)
    return None if cal is None else cal.maps


def clinical_row(pred: ClinicalPrediction, mode: str) -> dict:
    """One patient's prediction as flat table columns (``memamba predict``): who scored them, the raw risk and its
    spread, risk group, percentile, survival at each horizon with its interval, the median with its interval."""
    r = list(pred.risks.values())
    row = {"scored_by": mode, "folds": " ".join(str(k) for k in pred.folds), "risk": float(np.mean(r)),
           "risk_low": float(min(r)), "risk_high": float(max(r)), "risk_group": pred.risk_group,
           "percentile": round(pred.percentile, 2)}
    for h, iv in sorted(pred.horizons.items()):
        row.update({f"surv_{h:g}m": iv.value, f"surv_{h:g}m_low": iv.low, f"surv_{h:g}m_high": iv.high})
    med = pred.median
    row.update({"median_months": None if med is None else med.value, "median_low": None if med is None else med.low,
                "median_high": None if med is None else med.high, "follow_up_months": pred.follow_up,
                "interval": pred.interval_kind})
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()}


def clinical_table(models: RunModels, cohort: Cohort, maps: dict[int, CalibrationMap], *, horizons=None,
                   n_boot: int = 200) -> tuple[pd.DataFrame, list[str]]:
    """Every patient of ``cohort`` scored by who-scores-whom and calibrated: (table, patients left out with why).

    One row per patient: ``case_id`` then :func:`clinical_row`'s columns, then ``survival_months, censorship``.
    Horizons: ``horizons`` or :func:`~memamba_core.survival.clinical_terms.automatic_horizons` of the shortest
    follow-up the maps support (the same columns for everyone); a horizon beyond it is an InputError. ``median_*`` blank: not reached.
    ``risk`` is the scoring model's raw risk (an ensemble's mean, with ``risk_low``/``risk_high`` its range).
    """
    missing = sorted(set(models.folds) - set(maps))
    if missing:
        raise InputError(f"fold(s) {missing} of run '{models.name}' have no calibration map; run `memamba calibrate {models.run} COHORT`.")
    limit = min(m.horizon_limit for m in maps.values())
    hz = automatic_horizons(limit) if horizons is None else resolve_horizons(horizons, limit)[0]
    rows, skipped = [], []
    for cid in cohort.case_ids():
        try:
            score = score_patient(models, cohort, cid)
        except InputError as err:
            skipped.append(f"{cid}: {err}")
            continue
        pred = clinical_prediction(score, maps, horizons=hz, n_boot=n_boot)
        p = cohort.patient(cid)
        rows.append({"case_id": cid, **clinical_row(pred, score.mode), "survival_months": p.survival_months,
                     "censorship": p.censorship})
    if not rows:
        raise InputError(f"no patient of cohort '{cohort.name}' could be scored: {skipped[0] if skipped else 'the cohort is empty'}")
    return pd.DataFrame(rows), skipped
