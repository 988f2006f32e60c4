"""Cross-validated training into a run folder: outputs, honesty, resume, refusals."""


import numpy as np
import pandas as pd
import pytest

from memamba_core.data import load_cohort
from memamba_core.errors import InputError
from memamba_core.runs import RunPaths, finished_folds, read_fold_meta, read_oof, read_run_record
from memamba_core.train import read_progress, train_cv
from tests._train_cohort import make_cohort, tiny_train, one_thread  # one_thread: autouse fixture


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return load_cohort(make_cohort(tmp_path_factory.mktemp("cohort") / "tiny", n=18))


def _files(run):
    log = RunPaths(run).progress
    return {p.relative_to(run): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file() and p != log}


@pytest.mark.slow
def test_run_folder_contents(cohort, tmp_path):
    run = tmp_path / "run"
    summary = train_cv(cohort, tiny_train(eval_every=1), run, progress=False)
    assert summary["complete"] and summary["n_folds_finished"] == 3
    assert summary["mean"]["c_index"] is not None and 0 <= summary["mean"]["c_index"] <= 1
    preds = read_oof(run)
    oof = preds.to_frame()
    assert list(oof.columns) == ["case_id", "fold", "risk", "S_1", "S_2", "S_3", "S_4", "survival_months", "censorship"]
    assert sorted(oof.case_id) == sorted(cohort.case_ids())  # every patient predicted exactly once, out of fold
    np.testing.assert_allclose(preds.risk, -preds.survival.sum(axis=1), atol=1e-5)
    record = read_run_record(run)
    assert finished_folds(run) == [0, 1, 2] and record.n_folds == 3 and record.cohort_name == "tiny"
    for k in range(3):
        meta = read_fold_meta(RunPaths(run).fold(k))
        train_ids, val_ids = set(meta.train_case_ids), set(meta.val_case_ids)
        assert not train_ids & val_ids
        assert set(oof.case_id[oof.fold == k]) == val_ids
        assert list(meta.train_case_ids) == record.folds[k]["train"]
        # scaler and cuts come from the training patients only
        X = cohort.genomic_matrix(list(meta.train_case_ids))
        np.testing.assert_allclose(meta.scaler["mean"], np.nanmean(X, axis=0), rtol=1e-5, atol=1e-6)
        tr = [cohort.patient(c) for c in meta.train_case_ids]
        ev = [p.survival_months for p in tr if p.event]
        np.testing.assert_allclose(meta.cuts, np.quantile(ev, [0.25, 0.5, 0.75]))
        np.testing.assert_array_equal(preds.cuts[k], meta.cuts)
        assert meta.model_config["omic_sizes"] == [4, 4, 4] and meta.model_config["path_input_dim"] == 8
        assert meta.group_names == ("A", "B", "C")
        assert meta.selected_epoch == 2  # selection "last"
    prog = read_progress(run)
    epochs = [r for r in prog if r["event"] == "epoch"]
    assert len(epochs) == 3 * 2
    assert {"fold", "epoch", "loss", "train_c_index", "val_c_index", "seconds", "t"} <= set(epochs[0])
    assert [r["event"] for r in prog][0] == "run_start" and prog[-1]["event"] == "run_end"
    assert not list(run.rglob("*.tmp"))


@pytest.mark.slow
def test_inner_val_selection_holds_out_part_of_the_training_fold(cohort, tmp_path):
    summary = train_cv(cohort, tiny_train(selection="inner_val"), tmp_path / "r", progress=False)
    for f in summary["folds"]:
        assert 1 <= f["selected_epoch"] <= 2
    epochs = [r for r in read_progress(tmp_path / "r") if r["event"] == "epoch"]
    assert all("inner_c_index" in r for r in epochs)


class Interrupt(Exception):
    pass


@pytest.mark.slow
def test_resume_after_interruption_skips_finished_folds(cohort, tmp_path):
    run = tmp_path / "run"
    cfg = tiny_train(eval_every=1)

    def crash_in_fold_1(rec):
        if rec.get("event") == "epoch" and rec["fold"] == 1:
            raise Interrupt()

    with pytest.raises(Interrupt):
        train_cv(cohort, cfg, run, progress=False, on_record=crash_in_fold_1)
    assert finished_folds(run) == [0]
    assert RunPaths(run).fold(0).meta.is_file() and not RunPaths(run).fold(1).meta.exists()
    fold0 = RunPaths(run).fold(0).dir
    before = {k: v for k, v in _files(run).items() if (run / k).parent == fold0}
    mtimes = {p: p.stat().st_mtime_ns for p in fold0.iterdir()}
    assert not list(run.rglob("*.tmp"))  # nothing half-written under any name

    seen = []
    summary = train_cv(cohort, cfg, run, progress=False, on_record=seen.append)
    assert summary["complete"]
    assert {r["fold"] for r in seen if r.get("event") == "fold_start"} == {1, 2}  # fold 0 not redone
    assert seen[0]["event"] == "resume" and seen[0]["skipping"] == [0]
    after = _files(run)
    for k, v in before.items():
        assert after[k] == v
    assert all(p.stat().st_mtime_ns == m for p, m in mtimes.items())
    # the resumed run equals an uninterrupted one, and one that never looked at the validation folds
    # while training (eval_every=0): monitoring cannot influence the model
    train_cv(cohort, tiny_train(eval_every=0), tmp_path / "clean", progress=False)
    pd.testing.assert_frame_equal(read_oof(run).to_frame(), read_oof(tmp_path / "clean").to_frame())


@pytest.mark.slow
def test_different_config_is_refused_unless_forced(cohort, tmp_path):
    run = tmp_path / "run"
    train_cv(cohort, tiny_train(epochs=1), run, progress=False)
    before = _files(run)
    with pytest.raises(InputError, match=r"different configuration \(train\.lr: 0\.001 → 0\.002") as err:
        train_cv(cohort, tiny_train(epochs=1, lr=2e-3), run, progress=False)
    assert "--force" in str(err.value)
    assert _files(run) == before  # nothing overwritten
    train_cv(cohort, tiny_train(epochs=1, lr=2e-3), run, progress=False, force=True)
    moved = [p for p in run.iterdir() if p.name.startswith("replaced-")]
    weights = RunPaths(run).fold(0).weights
    assert len(moved) == 1 and RunPaths(moved[0]).fold(0).weights.read_bytes() == before[weights.relative_to(run)]
    assert read_run_record(run).train["lr"] == 2e-3


def test_unrelated_folder_is_refused(cohort, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        train_cv(cohort, tiny_train(epochs=1), tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["notes.txt"]


def test_training_fold_without_events(tmp_path):
    # split 1 trains on patients 0-5 only; all of them are censored
    root = make_cohort(tmp_path / "c", n=12, splits=[(list(range(6, 12)), list(range(6))), (list(range(6)), list(range(6, 12)))])
    labels = pd.read_csv(root / "labels.csv")
    labels["censorship"] = [1] * 6 + [0] * 6
    labels.to_csv(root / "labels.csv", index=False)
    cohort = load_cohort(root)
    with pytest.raises(InputError, match="fold 1 .*all 6 training patients are censored"):
        train_cv(cohort, tiny_train(folds="splits"), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_fewer_patients_than_folds(tmp_path):
    cohort = load_cohort(make_cohort(tmp_path / "c", n=4))
    with pytest.raises(InputError, match="has 4 patients but 5 folds"):
        train_cv(cohort, tiny_train(n_folds=5), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_missing_modality_for_the_model(tmp_path):
    cohort = load_cohort(make_cohort(tmp_path / "c", n=12, pathology=False))
    with pytest.raises(InputError, match="reads patch features but cohort 'c' .* has none .*--modalities genomics"):
        train_cv(cohort, tiny_train(), tmp_path / "run", progress=False)
    summary = train_cv(cohort, tiny_train(model={"modalities": "genomics"}, epochs=1), tmp_path / "run", progress=False)
    assert summary["complete"]
