"""Who scores whom: out-of-fold for the run's own patients, the fold ensemble for anyone else; calibrated in clinical terms."""

import dataclasses
import shutil

import numpy as np
import pandas as pd
import pytest

from memamba_core.data import load_cohort
from memamba_core.errors import InputError
from memamba_core.train.scoring import ENSEMBLE, OUT_OF_FOLD, RunModels, calibrate_run, clinical_prediction, run_oof, score_patient
from memamba_core.runs import RunPaths
from tests._train_cohort import one_thread, outside_copy, trained_run  # noqa: F401  (one_thread: autouse)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cohort, path = trained_run(tmp_path_factory)
    models = RunModels.load(path)
    return cohort, models, calibrate_run(models, cohort, min_at_risk=3)


@pytest.fixture(scope="module")
def outside(run, tmp_path_factory):
    """The same patients' data under new case ids: a cohort no fold model has seen by id."""
    cohort, _, _ = run
    root = outside_copy(cohort.root, tmp_path_factory.mktemp("outside") / "cohort")
    return load_cohort(root)


def test_every_cohort_patient_is_scored_by_a_model_that_did_not_train_on_them(run):
    cohort, models, _ = run
    for cid in cohort.case_ids():
        s = score_patient(models, cohort, cid)
        assert s.mode == OUT_OF_FOLD and len(s.folds) == 1
        m = models.folds[s.folds[0]]
        assert cid not in m.train_case_ids and cid in m.val_case_ids
        assert "did not train on this patient" in s.describe()


def test_a_patient_outside_the_run_is_scored_by_the_ensemble(run, outside):
    _, models, maps = run
    s = score_patient(models, outside, "NEW-000")
    assert s.mode == ENSEMBLE and s.folds == tuple(sorted(models.folds))
    lo, hi = s.spread
    assert lo < hi  # different fold models disagree a little
    pred = clinical_prediction(s, maps, horizons=[6])
    assert pred.folds == s.folds and "range across the 3 fold models" in pred.interval_kind
    assert "ensemble of 3 fold models" in pred.scored_by
    each = [maps[k].survival([s.risks[k]], [6.0])[0, 0] for k in s.folds]
    assert pred.horizons[6.0].low == pytest.approx(min(each)) and pred.horizons[6.0].high == pytest.approx(max(each))


def test_oof_patient_in_clinical_terms(run):
    cohort, models, maps = run
    cid = cohort.case_ids()[0]
    s = score_patient(models, cohort, cid)
    pred = clinical_prediction(s, maps, horizons=[6], n_boot=40)
    k = s.folds[0]
    assert pred.folds == (k,) and f"fold {k} model" in pred.scored_by and "bootstrap" in pred.interval_kind
    assert pred.horizons[6.0].value == pytest.approx(maps[k].survival([s.risks[k]], [6.0])[0, 0])
    assert pred.risk_group in ("low", "intermediate", "high")
    with pytest.raises(InputError, match="beyond the follow-up"):
        clinical_prediction(s, maps, horizons=[10_000])


def test_a_patient_every_fold_trained_on_is_refused(run):
    cohort, models, _ = run
    cid = cohort.case_ids()[0]
    everyone = tuple(cohort.case_ids())
    greedy = RunModels(models.run, {k: dataclasses.replace(m, train_case_ids=everyone, val_case_ids=()) for k, m in models.folds.items()})
    with pytest.raises(InputError, match="every fold model .* trained on this patient"):
        greedy.who_scores(cid)


def test_run_oof_matches_the_run_folder(run):
    cohort, models, maps = run
    oof = run_oof(models, cohort)
    saved = pd.read_csv(RunPaths(models.run).oof, dtype={"case_id": str}).set_index("case_id")
    np.testing.assert_allclose(oof.set_index("case_id").loc[saved.index, "risk"], saved["risk"], atol=1e-4)
    assert sorted(maps) == sorted(models.folds)
    for k, m in maps.items():
        assert m.sample_z.size == (oof.fold != k).sum()  # the other folds' patients only


def test_a_patient_with_neither_modality_is_a_clear_message(run, tmp_path):
    cohort, models, maps = run
    root = tmp_path / "cohort"
    shutil.copytree(cohort.root, root)
    labels = pd.read_csv(root / "labels.csv")
    genes = [c for c in labels.columns if c.endswith("_rnaseq")]
    labels.loc[labels.case_id == "P000", genes] = np.nan
    labels.to_csv(root / "labels.csv", index=False)
    (root / "pt_files" / "S000.pt").unlink()
    bare = load_cohort(root)
    with pytest.raises(InputError, match="none of the modalities"):
        score_patient(models, bare, "P000")
    assert score_patient(models, bare, "P001").mode == OUT_OF_FOLD  # the others still score
