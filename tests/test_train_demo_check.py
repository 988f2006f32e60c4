"""Attention vs saved truth, and the demo acceptance record (what `memamba demo --check` reports)."""

import shutil

import numpy as np
import pytest
import torch

from memamba_core.data import load_cohort
from memamba_core.errors import InputError
from memamba_core.runs import RunPaths, ablation_table, finished_folds, read_acceptance, read_fold_meta
from memamba_core.train import load_checkpoint, train_cv
from memamba_core.train.checkpoint import save_fold
from memamba_core.train.demo_check import attention_auroc, demo_acceptance
from tests._train_cohort import make_cohort, tiny_train, trained_run, write_truth, one_thread  # one_thread: autouse fixture


def _plant_attention_on_feature_1(model) -> None:
    """ABMIL weights whose attention score rises with patch feature 1 (the truth's tumour patches have it > 0)."""
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        proj, pool = model.encoder.proj[0], model.encoder.pool
        proj.weight[0, 1], proj.bias[0] = 1.0, 10.0  # unit 0 = feature 1 + 10 > 0: ReLU keeps it
        pool.V[0].weight[0, 0] = 0.05  # tanh(0.05 · unit 0): increasing, far from saturation
        pool.w.weight[0, 0] = 1.0  # U = 0 → sigmoid 0.5: the score is 0.5 · tanh(…)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A cross-validated ABMIL run on a cohort with truth, every fold's attention planted on the truth's feature."""
    base = tmp_path_factory.mktemp("planted")
    root = make_cohort(base / "cohort", n=15)
    write_truth(root)
    cohort = load_cohort(root)
    run = base / "run"
    train_cv(cohort, tiny_train(model={"model": "abmil"}, epochs=1), run, progress=False)
    for k in finished_folds(run):
        loaded = load_checkpoint(run, fold=k)
        _plant_attention_on_feature_1(loaded.model)
        save_fold(RunPaths(run).fold(k).dir, loaded.model, read_fold_meta(RunPaths(run).fold(k)))
    return cohort, run


def test_planted_attention_ranks_the_risk_driving_patches_first(planted):
    cohort, run = planted
    res = attention_auroc(run, cohort)
    pool = res["pathology/pool"]
    assert pool["mean"] == pytest.approx(1.0) and pool["median"] == pytest.approx(1.0)
    held_out = {c for k in finished_folds(run) for c in load_checkpoint(run, fold=k).val_case_ids}
    assert set(res["per_patient"]) <= held_out and pool["n_slides"] == len(res["per_patient"]) >= 10  # out-of-fold only
    assert res["pathology/ranked"] == {"mean": None, "median": None, "n_slides": 0}  # ABMIL has no ranked branch
    assert res["positive_class"] == 1


def test_against_shuffled_truth_the_same_attention_scores_chance(planted, tmp_path):
    cohort, run = planted
    root = tmp_path / "shuffled"
    shutil.copytree(cohort.root, root)
    rng = np.random.default_rng(0)
    for p in sorted((root / "truth" / "patch_classes").glob("*.npy")):
        np.save(p, rng.permutation(np.load(p)), allow_pickle=False)
    pool = attention_auroc(run, load_cohort(root))["pathology/pool"]
    assert abs(pool["mean"] - 0.5) < 0.15 and pool["n_slides"] >= 10


def test_attention_auroc_needs_truth_that_matches(tmp_path_factory, tmp_path):
    cohort, run = trained_run(tmp_path_factory)
    root = tmp_path / "copy"
    shutil.copytree(cohort.root, root)
    shutil.rmtree(root / "truth")
    with pytest.raises(InputError, match="only the demo cohort has"):
        attention_auroc(run, load_cohort(root))
    shutil.copytree(cohort.root / "truth", root / "truth")
    victim = sorted((root / "truth" / "patch_classes").glob("*.npy"))[0]
    np.save(victim, np.zeros(3, dtype=np.int8))  # wrong length
    with pytest.raises(InputError, match="3 patch classes for a slide with"):
        attention_auroc(run, load_cohort(root))
    (root / "truth" / "model.json").write_text('{"classes": ["background"]}')  # no risk-driving class named
    with pytest.raises(InputError, match="risk_driving_class"):
        attention_auroc(run, load_cohort(root))
    with pytest.raises(InputError, match="no finished fold"):
        attention_auroc(tmp_path, cohort)


def test_the_acceptance_record_holds_what_the_check_reports(tmp_path):
    root = make_cohort(tmp_path / "c", n=12)
    write_truth(root)
    cohort = load_cohort(root)
    cfg = tiny_train(epochs=1, n_folds=2)
    out = tmp_path / "acceptance"
    res = demo_acceptance(cohort, cfg, out)
    assert read_acceptance(out) == res and set(res) == {"c_index_mean", "full_beats_both", "attention_auroc", "train_config"}
    table = ablation_table(out).set_index("variant")
    assert list(table.index) == ["full", "pathology_only", "genomics_only"]
    for variant, c in res["c_index_mean"].items():
        assert c == pytest.approx(table.loc[variant, "c_index_mean"], abs=5e-5)  # the table keeps 4 decimals
    c = res["c_index_mean"]
    assert res["full_beats_both"] == (c["full"] > c["pathology_only"] and c["full"] > c["genomics_only"])
    att = res["attention_auroc"]
    assert set(att) == {"pathology/pool", "pathology/ranked", "positive_class"} and att["pathology/pool"]["n_slides"] >= 8
    assert 0.0 <= att["pathology/pool"]["mean"] <= 1.0 and res["train_config"] == cfg.to_dict()
