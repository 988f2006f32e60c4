"""The one cohort ↔ model compatibility check: every problem found, from a meta record without the model, the same for training and prediction."""

import dataclasses
import shutil

import pandas as pd
import pytest

from memamba_core.data import load_cohort
from memamba_core.errors import InputError
from memamba_core.runs import RunPaths, locate_fold, read_fold_meta
from memamba_core.train import Needs, compatibility_problems, load_checkpoint, predict_cohort, require_compatible, train_cv
from tests._train_cohort import make_cohort, tiny_train, trained_run, one_thread  # one_thread: autouse fixture


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return trained_run(tmp_path_factory)


def _kinds(problems):
    return [p.kind for p in problems]


def test_a_matching_cohort_has_no_problem(trained):
    cohort, run = trained
    assert compatibility_problems(cohort, read_fold_meta(locate_fold(run))) == []
    assert compatibility_problems(cohort, load_checkpoint(run)) == []
    require_compatible(cohort, Needs.for_training(tiny_train().model, 4))


def test_every_problem_is_found_from_the_meta_record_without_weights(trained, tmp_path):
    """Home checks a checkpoint cheaply: only the meta record is read (here the weights are not even there)."""
    _, run = trained
    fold = tmp_path / "fold_0"
    shutil.copytree(RunPaths(run).fold(0).dir, fold)
    RunPaths(tmp_path).fold(0).weights.unlink()
    meta = read_fold_meta(fold)
    root = make_cohort(tmp_path / "odd", n=6, d_in=12)
    labels = pd.read_csv(root / "labels.csv")
    labels.drop(columns=["G1_rnaseq", "G5_rnaseq"]).to_csv(root / "labels.csv", index=False)  # groups A and B lose a gene
    odd = load_cohort(root)
    problems = compatibility_problems(odd, meta)
    assert _kinds(problems) == ["feature_width", "gene_columns", "gene_columns"]
    assert "trained on 8-dim patch features but cohort 'odd' has 12-dim" in problems[0].message
    assert "gene group 'A'" in problems[1].message and "1 of its 4 columns missing in the cohort (G1_rnaseq)" in problems[1].message
    assert "gene group 'B'" in problems[2].message and "G5_rnaseq" in problems[2].message
    with pytest.raises(InputError, match=r"does not fit cohort 'odd' \(3 problems\):\n  - .*8-dim.*\n  - .*'A'.*\n  - .*'B'"):
        require_compatible(odd, meta)


def test_damaged_or_foreign_meta_records_are_problems_too(trained):
    cohort, run = trained
    meta = read_fold_meta(locate_fold(run))
    cuts = compatibility_problems(cohort, dataclasses.replace(meta, cuts=(5.0, 1.0, 9.0)))
    assert _kinds(cuts) == ["time_bins"] and "not finite and increasing" in cuts[0].message
    short = compatibility_problems(cohort, dataclasses.replace(meta, cuts=(5.0, 9.0)))
    assert "2 time-bin cut points for K = 4 bins" in short[0].message
    foreign = compatibility_problems(cohort, dataclasses.replace(meta, model_config={**meta.model_config, "model": "nope"}))
    assert _kinds(foreign) == ["model"] and "model='nope' is not one of memamba" in foreign[0].message


def test_training_and_prediction_raise_the_same_problem(trained, tmp_path):
    _, run = trained
    no_path = load_cohort(make_cohort(tmp_path / "nopath", n=12, pathology=False))
    fix = "has none (no pt_files/ or h5_files/): extract them (memamba extract), or use a model without pathology"
    with pytest.raises(InputError, match=fix.replace("(", r"\(").replace(")", r"\)")) as trained_err:
        train_cv(no_path, tiny_train(), tmp_path / "run", progress=False)
    with pytest.raises(InputError, match=fix.replace("(", r"\(").replace(")", r"\)")) as predicted_err:
        predict_cohort(load_checkpoint(run), no_path)
    assert "model 'memamba'" in str(trained_err.value) and f"checkpoint {RunPaths(run).fold(0).dir}" in str(predicted_err.value)
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_a_cohort_without_genomics_for_a_bimodal_model(trained, tmp_path):
    _, run = trained
    root = make_cohort(tmp_path / "nogen", n=12)
    labels = pd.read_csv(root / "labels.csv")
    labels[[c for c in labels.columns if not c.endswith("_rnaseq")]].to_csv(root / "labels.csv", index=False)
    cohort = load_cohort(root)
    needs = [Needs.for_training(tiny_train().model, 4), read_fold_meta(locate_fold(run)), load_checkpoint(run)]
    problems = [compatibility_problems(cohort, n) for n in needs]
    assert all(_kinds(p) == ["modality"] for p in problems)
    assert all("but cohort 'nogen' has no gene groups: add signatures.csv or pathways.csv" in p[0].message for p in problems)
    assert "(gene groups A, B, C)" in problems[1][0].message  # a checkpoint says which groups it needs
    genomics_free = Needs.for_training(tiny_train(model={"modalities": "pathology"}).model, 4)
    assert compatibility_problems(cohort, genomics_free) == []
