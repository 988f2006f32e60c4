"""The calibration stored with a run: written by training, fitted on each fold's training patients only, read back
checked (damaged or stale files refused), and the calibrated out-of-fold table."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from memamba_core.errors import InputError
from memamba_core.runs import (RunPaths, calibration_state, read_calibrated_oof, read_calibration, read_oof, read_progress,
                               write_predictions_csv)
from memamba_core.runs.predictions import read_predictions_csv
from memamba_core.survival.calibration import MIN_AT_RISK
from memamba_core.train.scoring import (CROSS_FOLD_SOURCE, RunModels, calibrate_and_store, calibrate_run, calibration_min_at_risk,
                                        stored_maps)
from tests._train_cohort import one_thread, trained_run  # noqa: F401  (one_thread: autouse)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return trained_run(tmp_path_factory)


@pytest.fixture()
def copy(run, tmp_path):
    cohort, path = run
    dst = tmp_path / "run"
    shutil.copytree(path, dst)
    return cohort, dst


def test_training_stores_the_calibration_once_every_fold_is_finished(run):
    cohort, path = run
    cal = read_calibration(path)
    assert cal is not None and cal.source == CROSS_FOLD_SOURCE
    oof = read_oof(path).frame
    assert cal.folds == tuple(sorted(set(oof["fold"])))
    events = [r for r in read_progress(path) if r.get("event") == "calibration"]
    assert events and events[-1]["ok"] is True
    # the stored maps are the ones calibrate_run fits from the run's out-of-fold predictions
    fresh = calibrate_run(RunModels.load(path), cohort, oof, min_at_risk=cal.min_at_risk)
    for k, m in cal.maps.items():
        assert m.fit.beta == pytest.approx(fresh[k].fit.beta, rel=1e-9, abs=1e-12)
        np.testing.assert_allclose(m.reference, fresh[k].reference)


def test_patients_validated_in_two_folds_are_refused(run):
    """The other folds' predictions are training patients of fold k only when no patient is validated twice."""
    cohort, path = run
    oof = read_oof(path).frame
    first = oof[oof.fold == 0].head(2)
    twice = pd.concat([oof, first.assign(fold=1)], ignore_index=True)
    with pytest.raises(InputError, match=rf"patient\(s\) {first.case_id.iloc[0]}, {first.case_id.iloc[1]} are validation patients of more than one fold"):
        calibrate_run(RunModels.load(path), cohort, twice)


def test_fold_k_map_never_sees_fold_k_validation_outcomes(run):
    """Moving fold k's validation outcomes changes no part of fold k's map (only the other folds' maps)."""
    cohort, path = run
    models = RunModels.load(path)
    oof = read_oof(path).frame
    base = calibrate_run(models, cohort, oof, min_at_risk=3)
    k = int(oof["fold"].iloc[0])
    moved = oof.copy()
    sel = moved["fold"] == k
    moved.loc[sel, "survival_months"] = moved.loc[sel, "survival_months"] * 3 + 7
    moved.loc[sel, "censorship"] = 1 - moved.loc[sel, "censorship"]
    again = calibrate_run(models, cohort, moved, min_at_risk=3)
    assert again[k].fit.beta == base[k].fit.beta
    np.testing.assert_array_equal(again[k].sample_times, base[k].sample_times)
    assert any(again[j].fit.beta != base[j].fit.beta for j in base if j != k)
    # the sample is exactly the other folds' validation patients (all training patients of fold k)
    assert base[k].sample_times.size == int((oof["fold"] != k).sum())
    assert set(oof.loc[oof["fold"] != k, "case_id"]) <= set(models.folds[k].train_case_ids)


def test_calibrated_oof_table_matches_the_maps(run):
    _, path = run
    cal = read_calibration(path)
    frame, months, surv = read_calibrated_oof(path)
    assert months[0] == 0 and np.all(np.diff(months) == 1)
    for i, row in frame.iterrows():
        m = cal.maps[int(row["fold"])]
        inside = months <= m.horizon_limit
        np.testing.assert_allclose(surv[i, inside], m.survival([row["risk"]], months[inside])[0], atol=2e-6)
        assert np.isnan(surv[i, ~inside]).all()
        assert row["percentile"] == pytest.approx(m.percentile([row["risk"]])[0], abs=1e-4)
        assert row["risk_group"] in ("low", "intermediate", "high")
    assert np.all(np.diff(surv[:, :3], axis=1) <= 1e-12)  # survival does not increase


def test_a_retrained_fold_makes_the_calibration_stale(copy):
    cohort, path = copy
    p = RunPaths(path).fold(0).predictions
    df = read_predictions_csv(p)
    df.loc[0, "risk"] = df.loc[0, "risk"] + 1.0
    write_predictions_csv(p, df)
    with pytest.raises(InputError, match="stale.*fold\\(s\\) 0.*memamba calibrate"):
        read_calibration(path)
    cal, why = calibration_state(path)
    assert cal is None and "stale" in why
    calibrate_and_store(path, cohort)  # `memamba calibrate` repairs it
    assert read_calibration(path) is not None


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["folds"]["0"].update(beta=d["folds"]["0"]["beta"] + 0.5), "does not match its own sample"),
    (lambda d: d.update(format="x"), "not a memamba calibration file"),
    (lambda d: d["fingerprints"].pop("0"), "fingerprints differ"),
    (lambda d: d["folds"]["1"]["sample"].update(times=[float("nan")]), "calibration"),
])
def test_a_damaged_calibration_file_is_refused_with_the_fix(copy, edit, message):
    _, path = copy
    p = RunPaths(path).calibration
    data = json.loads(p.read_text())
    edit(data)
    p.write_text(json.dumps(data))
    with pytest.raises(InputError, match=message):
        read_calibration(path)
    assert "memamba calibrate" in calibration_state(path)[1]


def test_a_run_without_calibration(copy):
    _, path = copy
    RunPaths(path).calibration.unlink()
    assert read_calibration(path) is None and stored_maps(path) is None
    assert "no stored calibration" in calibration_state(path)[1]


def test_min_at_risk_shrinks_only_for_small_cohorts():
    assert calibration_min_at_risk(np.repeat(np.arange(5), 20)) == MIN_AT_RISK  # samples of 80
    assert calibration_min_at_risk(np.repeat(np.arange(3), 4)) == 3  # the tiny demo: samples of 8
    assert calibration_min_at_risk(np.repeat(np.arange(3), 8)) == 5


def test_a_run_that_cannot_be_calibrated_still_finishes_and_says_why(tmp_path, monkeypatch):
    from memamba_core.data import load_cohort
    from memamba_core.runs import read_summary
    from memamba_core.train import scoring, train_cv
    from tests._train_cohort import make_cohort, tiny_train

    def refuse(*a, **k):
        raise InputError("calibration sample: 2 patients, fewer than the 3 needed at risk at any horizon.")

    monkeypatch.setattr(scoring, "calibrate_and_store", refuse)
    cohort = load_cohort(make_cohort(tmp_path / "cohort", n=12))
    summary = train_cv(cohort, tiny_train(epochs=1), tmp_path / "run", progress=False)
    assert summary["complete"] and read_summary(tmp_path / "run")["complete"]
    rec = [r for r in read_progress(tmp_path / "run") if r.get("event") == "calibration"]
    assert rec and rec[-1]["ok"] is False and "fewer than the 3" in rec[-1]["error"]
    assert read_calibration(tmp_path / "run") is None
    assert "no stored calibration" in calibration_state(tmp_path / "run")[1]
