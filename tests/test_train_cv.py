"""Cross-validated training into a run folder: outputs, honesty, resume, refusals."""

import json

import numpy as np
import pandas as pd
import pytest

from memamba_core.data import load_cohort
from memamba_core.errors import InputError
from memamba_core.train import read_progress, train_cv
from tests._train_cohort import make_cohort, tiny_train, one_thread  # one_thread: autouse fixture


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return load_cohort(make_cohort(tmp_path_factory.mktemp("cohort") / "tiny", n=18))


def _files(run):
    return {p.relative_to(run): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file() and p.name != "progress.jsonl"}


@pytest.mark.slow
def test_run_folder_contents(cohort, tmp_path):
    run = tmp_path / "run"
    summary = train_cv(cohort, tiny_train(eval_every=1), run, progress=False)
    assert summary["complete"] and summary["n_folds_finished"] == 3
    assert summary["mean"]["c_index"] is not None and 0 <= summary["mean"]["c_index"] <= 1
    oof = pd.read_csv(run / "oof_predictions.csv", dtype={"case_id": str})
    assert list(oof.columns) == ["case_id", "fold", "risk", "S_1", "S_2", "S_3", "S_4", "survival_months", "censorship"]
    assert sorted(oof.case_id) == sorted(cohort.case_ids())  # every patient predicted exactly once, out of fold
    np.testing.assert_allclose(oof.risk, -oof[["S_1", "S_2", "S_3", "S_4"]].sum(axis=1), atol=1e-5)
    cfg = json.loads((run / "config.json").read_text())
    for k in range(3):
        meta = json.loads((run / f"fold_{k}" / "meta.json").read_text())
        train_ids, val_ids = set(meta["train_case_ids"]), set(meta["val_case_ids"])
        assert not train_ids & val_ids
        assert set(oof.case_id[oof.fold == k]) == val_ids
        assert meta["train_case_ids"] == cfg["folds"][k]["train"]
        # scaler and cuts come from the training patients only
        X = cohort.genomic_matrix(meta["train_case_ids"])
        np.testing.assert_allclose(meta["scaler"]["mean"], np.nanmean(X, axis=0), rtol=1e-5, atol=1e-6)
        tr = [cohort.patient(c) for c in meta["train_case_ids"]]
        ev = [p.survival_months for p in tr if p.event]
        np.testing.assert_allclose(meta["cuts"], np.quantile(ev, [0.25, 0.5, 0.75]))
        assert meta["model_config"]["omic_sizes"] == [4, 4, 4] and meta["model_config"]["path_input_dim"] == 8
        assert meta["groups"]["names"] == ["A", "B", "C"]
        assert meta["selected_epoch"] == 2  # selection "last"
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
    assert (run / "fold_0" / "meta.json").is_file()
    assert not (run / "fold_1" / "meta.json").exists()
    before = {k: v for k, v in _files(run).items() if str(k).startswith("fold_0")}
    mtimes = {p: p.stat().st_mtime_ns for p in (run / "fold_0").iterdir()}
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
    pd.testing.assert_frame_equal(pd.read_csv(run / "oof_predictions.csv"), pd.read_csv(tmp_path / "clean" / "oof_predictions.csv"))


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
    assert len(moved) == 1 and (moved[0] / "fold_0" / "model.safetensors").read_bytes() == before[
        (run / "fold_0" / "model.safetensors").relative_to(run)]
    assert json.loads((run / "config.json").read_text())["train"]["lr"] == 2e-3


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
    with pytest.raises(InputError, match="no patch features .*--modalities genomics"):
        train_cv(cohort, tiny_train(), tmp_path / "run", progress=False)
    summary = train_cv(cohort, tiny_train(model={"modalities": "genomics"}, epochs=1), tmp_path / "run", progress=False)
    assert summary["complete"]
