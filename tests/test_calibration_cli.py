"""The CLI on a run's stored calibration: `memamba calibrate`, `memamba predict` (who scores whom, calibrated columns),
`memamba report` (a real PDF, rendered and read back), and their refusals."""

import shutil

import numpy as np
import pandas as pd
import pytest

from memamba_core.cli import main
from memamba_core.data import load_cohort
from memamba_core.runs import RunPaths, read_calibration, survival_column_names
from memamba_core.train.scoring import RunModels
from tests._train_cohort import one_thread, outside_copy, trained_run  # noqa: F401  (one_thread: autouse)
from tests.test_report_pdf import needs_poppler, pdf_pngs, pdf_text


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cohort, path = trained_run(tmp_path_factory)
    dst = tmp_path_factory.mktemp("cli_run") / "run"
    shutil.copytree(path, dst)
    return cohort, dst


@pytest.fixture(scope="module")
def outside(run, tmp_path_factory):
    """The same patients' data under new case ids and without splits: patients no fold model trained on."""
    cohort, _ = run
    root = outside_copy(cohort.root, tmp_path_factory.mktemp("outside") / "cohort")
    return root


def test_calibrate_rewrites_the_stored_calibration(run, capsys):
    cohort, path = run
    before = read_calibration(path)
    RunPaths(path).calibration.unlink()
    assert main(["calibrate", str(path), str(cohort.root)]) == 0
    out = capsys.readouterr().out
    assert "fold 0: slope" in out and "written:" in out
    after = read_calibration(path)
    for k in before.maps:
        assert after.maps[k].fit.beta == pytest.approx(before.maps[k].fit.beta)


def test_predict_a_run_scores_its_patients_out_of_fold_with_calibrated_columns(run, tmp_path):
    cohort, path = run
    out = tmp_path / "p.csv"
    assert main(["predict", str(path), str(cohort.root), "--out", str(out), "--horizons", "6", "12"]) == 0
    df = pd.read_csv(out, dtype={"case_id": str})
    models = RunModels.load(path)
    assert set(df["scored_by"]) == {"out-of-fold"} and len(df) == len(cohort.case_ids())
    for cid, fold in zip(df["case_id"], df["folds"]):
        m = models.folds[int(fold)]
        assert cid in m.val_case_ids and cid not in m.train_case_ids
    for h in ("6", "12"):
        v, lo, hi = (df[f"surv_{h}m{s}"].to_numpy(float) for s in ("", "_low", "_high"))
        assert np.all((0 <= lo) & (lo <= v + 1e-12) & (v <= hi + 1e-12) & (hi <= 1))
    assert np.all(df["surv_12m"] <= df["surv_6m"] + 1e-12)
    assert set(df["risk_group"]) <= {"low", "intermediate", "high"}
    assert df["interval"].str.contains("bootstrap").all()
    assert survival_column_names(df.columns) == []  # the uncalibrated step curves are not offered


def test_predict_new_patients_uses_the_ensemble_with_its_spread(run, outside, tmp_path):
    _, path = run
    out = tmp_path / "p.csv"
    assert main(["predict", str(path), str(outside), "--out", str(out), "--horizons", "6"]) == 0
    df = pd.read_csv(out)
    n = len(RunModels.load(path).folds)
    assert set(df["scored_by"]) == {"ensemble"} and (df["folds"].str.split().str.len() == n).all()
    assert (df["risk_low"] <= df["risk"]).all() and (df["risk"] <= df["risk_high"]).all()
    assert (df["risk_low"] < df["risk_high"]).any()
    assert df["interval"].str.contains("range across").all()


def test_predict_one_fold_keeps_its_columns_and_adds_the_calibrated_ones(run, tmp_path):
    cohort, path = run
    out = tmp_path / "p.csv"
    assert main(["predict", str(path), str(cohort.root), "--fold", "1", "--out", str(out), "--horizons", "6"]) == 0
    df = pd.read_csv(out)
    assert {"S_1", "in_training", "surv_6m", "surv_6m_low", "risk_group"} <= set(df.columns)
    assert set(df.loc[df["in_training"], "scored_by"]) == {"fold model, in training"}


def test_bad_input_is_a_message(run, tmp_path, capsys):
    cohort, path = run
    assert main(["predict", str(path), str(cohort.root), "--out", str(tmp_path / "p.csv"), "--horizons", "900"]) == 2
    assert "beyond the follow-up" in capsys.readouterr().err
    assert main(["predict", str(path), str(cohort.root), "--out", str(cohort.root / "p.csv")]) == 2
    assert "inputs are never written into" in capsys.readouterr().err
    assert main(["report", str(path), str(cohort.root), "--out", str(path / "r.pdf")]) == 2
    assert "inputs are never written into" in capsys.readouterr().err
    assert main(["report", str(path), str(cohort.root), "--out", str(tmp_path / "r.pdf"), "--patient", "NOPE"]) == 2
    assert "not in cohort" in capsys.readouterr().err
    bare = tmp_path / "bare"
    shutil.copytree(path, bare)
    RunPaths(bare).calibration.unlink()
    assert main(["report", str(bare), str(cohort.root), "--out", str(tmp_path / "r.pdf")]) == 2
    assert "memamba calibrate" in capsys.readouterr().err
    # predict on a run without calibration still works with one fold model, and says why it has no calibrated columns
    assert main(["predict", str(bare), str(cohort.root), "--out", str(tmp_path / "p.csv")]) == 0
    assert "no stored calibration" in capsys.readouterr().err
    assert "surv_12m" not in pd.read_csv(tmp_path / "p.csv").columns


@needs_poppler
def test_report_for_one_patient_is_a_real_pdf(run, tmp_path):
    cohort, path = run
    cid = cohort.case_ids()[2]
    out = tmp_path / "one.pdf"
    assert main(["report", str(path), str(cohort.root), "--out", str(out), "--patient", cid, "--horizons", "6",
                 "--no-progress"]) == 0
    assert len(pdf_pngs(out, tmp_path / "p")) == 1
    text = pdf_text(out)
    assert f"Patient {cid}" in text and "Survival at 6 months" in text and path.name in text
    assert "Risk group" in text and "RESEARCH USE ONLY" in text and "out-of-fold" in text


@needs_poppler
def test_report_for_a_new_patient_names_the_ensemble(run, outside, tmp_path):
    _, path = run
    cid = load_cohort(outside).case_ids()[0]
    out = tmp_path / "new.pdf"
    assert main(["report", str(path), str(outside), "--out", str(out), "--patient", cid, "--horizons", "6", "--no-progress"]) == 0
    text = pdf_text(out)
    assert f"Patient {cid}" in text and "ensemble" in text and "range across" in text
