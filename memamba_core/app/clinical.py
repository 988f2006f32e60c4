"""The Patient page's clinical part and the Model-quality page, as plain Python (no streamlit; unit-tested).

- :func:`patient_clinical` — one patient scored by who-scores-whom (the fold model
  that did not train on them, or the ensemble of those that did not) and calibrated
  through the run's stored maps: survival at horizons and the median with
  intervals, the monthly curve with its band, risk group and percentile (both
  fixed on training patients), what is missing and what that costs (the run's
  ablation table), the raw risks for a details section.
- :func:`model_quality` — the run's out-of-fold calibration by risk quintile,
  time-dependent AUC, IBS against the Kaplan–Meier null, C-index with its CI, and
  the multivariable Cox model over the cohort's clinical variables (or why not).
- :func:`patient_report_pdf` — the patient's one-page PDF (:mod:`memamba_core.report`).

Every function takes the run folder and the cohort already loaded (the dashboard caches them in
``dashboard/_cache.py``); bad input is an :class:`~memamba_core.errors.InputError` with the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .. import runs

__all__ = ["parse_horizons", "PatientClinical", "QualityViews", "calibration_stamp", "run_calibration", "page_horizons", "patient_clinical",
           "missing_modalities", "model_quality", "patient_report_pdf", "cohort_km"]

_ABLATION_OF = {"pathology": "genomics_only", "genomics": "pathology_only"}  # missing modality → the variant without it


def calibration_stamp(run_dir: str | Path) -> tuple:
    """A cache key that changes when the run's calibration or any fold's predictions are rewritten."""
    from .run_files import stamp

    paths = runs.RunPaths(run_dir)
    return (stamp(paths.calibration), stamp(paths.calibrated_oof), stamp(paths.oof),
            tuple(stamp(f.predictions) for f in paths.fold_dirs()))


def run_calibration(run_dir: str | Path) -> tuple[dict | None, str]:
    """(fold → calibration map, or None; the sentence saying why there is none) of a run folder."""
    cal, why = runs.calibration_state(run_dir)
    return (None, why) if cal is None else (cal.maps, "")


def page_horizons(follow_up: float) -> tuple[float, ...]:
    """Horizons the page shows: :func:`memamba_core.survival.clinical_terms.automatic_horizons` (the CLI's too)."""
    from ..survival.clinical_terms import automatic_horizons

    return automatic_horizons(follow_up)


def parse_horizons(text: str) -> tuple[float, ...] | None:
    """Horizons typed on the page ("12, 24" months) → a tuple, or None for an empty field (the default ones).

    Raises:
        InputError: something other than positive numbers.
    """
    parts = [t for t in str(text).replace(";", ",").replace(" ", ",").split(",") if t.strip()]
    if not parts:
        return None
    try:
        values = [float(t) for t in parts]
    except ValueError:
        raise InputError(f"horizons: '{text}' is not a list of months; type numbers separated by commas, e.g. 12, 24.") from None
    if not all(np.isfinite(v) and v > 0 for v in values):
        raise InputError(f"horizons: '{text}' — each horizon must be a positive number of months.")
    return tuple(sorted(set(values)))


def missing_modalities(loaded, cohort, case_id: str) -> list[str]:
    """The modalities the model reads that this patient lacks (``pathology`` / ``genomics``)."""
    cfg = loaded.config
    out = []
    if cfg.uses_pathology and not cohort.has_pathology(case_id):
        out.append("pathology")
    if cfg.uses_genomics and not cohort.has_genomics(case_id):
        out.append("genomics")
    return out


def _missing_cost(run_dir, missing: list[str]) -> str:
    """What the run's ablation table says about scoring without the missing modality ('' when it has no table)."""
    if len(missing) != 1:
        return ""
    try:
        table = runs.ablation_table(run_dir)
    except InputError:
        return ""
    if table is None or "variant" not in table or "c_index_mean" not in table:
        return ""
    rows = table.set_index("variant")
    other = _ABLATION_OF[missing[0]]
    if "full" not in rows.index or other not in rows.index:
        return ""
    full, alone = float(rows.loc["full", "c_index_mean"]), float(rows.loc[other, "c_index_mean"])
    return (f"From the run's ablation table: a model trained without {missing[0]} ranks patients with C-index {alone:.3f} "
            f"against {full:.3f} for the full model (cross-validated means), a loss of {full - alone:+.3f}."
            if full >= alone else
            f"From the run's ablation table: a model trained without {missing[0]} reaches C-index {alone:.3f}, "
            f"the full model {full:.3f} (cross-validated means): no loss measured.")


@dataclass(frozen=True)
class PatientClinical:
    """What the Patient page's top part shows (light: arrays and text).

    ``prediction``: :class:`~memamba_core.survival.clinical_terms.ClinicalPrediction`;
    ``mode``: ``out-of-fold`` | ``ensemble``; ``headline``: "scored by fold k (did not
    train on this patient)" or "ensemble of n fold models"; ``missing``: modalities
    the model reads that the patient lacks, ``missing_note`` what the ablation table says it costs;
    ``spread``: (lowest, highest) raw risk across the scoring models; ``calibration``: the maps' source.
    """

    case_id: str
    mode: str
    headline: str
    prediction: object
    missing: tuple[str, ...] = ()
    missing_note: str = ""
    spread: tuple[float, float] = (0.0, 0.0)
    calibration: str = ""
    observed: tuple[float, int] = (0.0, 0)
    notes: list = field(default_factory=list)

    @property
    def n_models(self) -> int:
        return len(self.prediction.folds)

    def horizon_rows(self) -> pd.DataFrame:
        """One row per horizon: months, survival and its interval (percent)."""
        p = self.prediction
        return pd.DataFrame([{"horizon (months)": f"{h:g}", "survival": f"{100 * iv.value:.0f} %",
                              "interval": f"{100 * iv.low:.0f}–{100 * iv.high:.0f} %"} for h, iv in sorted(p.horizons.items())])

    def median_short(self) -> str:
        """The median for a headline: "14 months" or "not reached"."""
        p = self.prediction
        return "not reached" if p.median is None else f"{p.median.value:.0f} months"

    def median_text(self) -> str:
        p = self.prediction
        if p.median is None:
            return f"not reached within {p.follow_up:.0f} months"
        hi = "not reached" if not np.isfinite(p.median.high) else f"{p.median.high:.0f}"
        return f"{p.median.value:.0f} months ({p.median.low:.0f}–{hi})"

    def risk_rows(self) -> pd.DataFrame:
        """The raw model risks (details): fold → risk (higher = earlier event; model units, not comparable across runs)."""
        return pd.DataFrame({"fold model": [f"fold {k}" for k in self.prediction.risks],
                             "raw risk (−Σ S_k)": [round(v, 4) for v in self.prediction.risks.values()]})


def _check_patient(cohort, case_id: str) -> None:
    if case_id not in set(cohort.case_ids()):
        raise InputError(f"patient {case_id} is not in cohort '{cohort.name}'; pick one of its patients.")


def patient_clinical(models, cohort, maps: dict, case_id: str, *, horizons=None) -> PatientClinical:
    """Score ``case_id`` by who-scores-whom and calibrate it (module docstring).

    ``horizons``: months (default :func:`page_horizons` of the shortest supported follow-up of the maps used).

    Raises:
        InputError: unknown patient, a patient with neither modality the model reads, a horizon beyond the follow-up.
    """
    from ..train.scoring import OUT_OF_FOLD, clinical_prediction, score_patient

    _check_patient(cohort, case_id)
    any_model = next(iter(models.folds.values()))
    missing = missing_modalities(any_model, cohort, case_id)
    if len(missing) == 2 or (missing and (not any_model.config.uses_pathology or not any_model.config.uses_genomics)):
        raise InputError(f"patient {case_id} has none of the data this model reads ({' and '.join(missing)} missing), "
                         "so it cannot be scored; pick another patient or add the patient's data to the cohort.")
    score = score_patient(models, cohort, case_id)
    used = [maps[k] for k in score.folds if k in maps]
    if not used:
        raise InputError(f"the scoring fold model(s) {list(score.folds)} have no calibration map; run `memamba calibrate`.")
    hz = page_horizons(min(m.horizon_limit for m in used)) if horizons is None else horizons
    pred = clinical_prediction(score, maps, horizons=hz)
    if score.mode == OUT_OF_FOLD:
        head = f"Scored by fold {score.folds[0]} (did not train on this patient)"
    else:
        head = f"Ensemble of {len(score.folds)} fold models (none trained on this patient)"
    p = cohort.patient(case_id)
    return PatientClinical(case_id=case_id, mode=score.mode, headline=head, prediction=pred, missing=tuple(missing),
                           missing_note=_missing_cost(models.run, missing), spread=score.spread,
                           calibration=used[0].source, observed=(float(p.survival_months), int(p.event)))


def patient_drivers(models, cohort, maps: dict, case_id: str, *, k: int = 8, steps: int = 8):
    """What drives ``case_id``'s risk (:class:`~memamba_core.explain.Drivers`), under the same fold model(s)
    that score the patient on the page and in the report (who scores whom), in scale-free units.

    Raises:
        InputError: unknown patient, or a patient with neither modality the model reads.
    """
    from ..explain import scored_drivers

    _check_patient(cohort, case_id)
    _, folds = models.who_scores(case_id)
    return scored_drivers(models, cohort, maps, folds, case_id, k=k, steps=steps)


def cohort_km(cohort):
    """The cohort's Kaplan–Meier curve (:class:`~memamba_core.survival.km.KMCurve`)."""
    from ..survival.km import km_curve

    t = np.array([q.survival_months for q in cohort.patients], dtype=float)
    e = np.array([int(q.event) for q in cohort.patients])
    return km_curve(t, e, "cohort")


def patient_report_pdf(models, cohort, maps: dict, case_id: str, *, horizons=None) -> bytes:
    """The patient's one-page PDF report (bytes; :func:`memamba_core.report.patient_page`)."""
    from ..report import patient_page, report_pdf

    if horizons is None:
        score_folds = [k for k, m in models.folds.items() if case_id not in m.train_case_ids]
        used = [maps[k] for k in score_folds if k in maps] or list(maps.values())
        horizons = page_horizons(min(m.horizon_limit for m in used))
    return report_pdf([patient_page(models, cohort, maps, case_id, horizons=horizons)])


@dataclass(frozen=True)
class QualityViews:
    """The Model-quality page's content, all out-of-fold.

    ``brier``: per fold + mean (IBS model vs KM null, C-index); ``calibration``: per
    horizon × quintile (predicted vs KM observed with CI); ``auc``: (times, AUC(t),
    mean); ``c_index``: pooled Estimate; ``per_fold_c``: fold → C-index; ``cox``:
    :class:`~memamba_core.survival.cox.CoxTable` or None with ``cox_message`` saying why.
    """

    horizons: tuple[float, ...]
    brier: pd.DataFrame
    calibration: pd.DataFrame
    auc: tuple
    c_index: object
    per_fold_c: pd.Series
    cox: object | None
    cox_message: str
    source: str
    notes: list = field(default_factory=list)


def model_quality(run_dir: str | Path, cohort, maps: dict, *, horizons=None, n_groups: int = 5, n_boot: int = 500) -> QualityViews:
    """Calibration and discrimination of the run's out-of-fold predictions (:mod:`memamba_core.survival.quality`)."""
    from ..survival.cox import added_value
    from ..survival.quality import brier_vs_null, calibrated_oof, calibration_table, discrimination, td_auc

    rec = runs.read_oof(run_dir)
    if rec is None:
        raise InputError(f"run '{Path(run_dir).name}' has no out-of-fold predictions yet; train it first.")
    oof = calibrated_oof(rec.frame, maps)
    limit = min(m.horizon_limit for m in maps.values())
    hz = page_horizons(limit) if horizons is None else tuple(float(h) for h in horizons)
    notes = []
    groups = n_groups
    if oof.times.size < 2 * groups:
        groups = max(2, oof.times.size // 2)
        notes.append(f"{oof.times.size} patients: calibration shown in {groups} risk groups instead of {n_groups}.")
    brier = brier_vs_null(oof)
    cal = calibration_table(oof, hz, groups)
    auc = td_auc(oof)
    disc = discrimination(oof, n_boot=n_boot)
    per_fold = brier.drop(index="mean")["c_index"]
    frame = cohort.clinical_frame().reset_index()
    frame = frame.drop(columns=[c for c in ("survival_months", "censorship", "event") if c in frame.columns])
    score = pd.DataFrame({"case_id": oof.case_ids, "score": oof.z(), "survival_months": oof.times, "event": oof.events})
    merged = score.merge(frame, on="case_id", how="left")
    try:
        cox, msg = added_value(merged), ""
    except InputError as err:
        cox, msg = None, str(err)
    return QualityViews(hz, brier, cal, auc, disc, per_fold, cox, msg, next(iter(maps.values())).source, notes)
