"""Attention vs saved truth (the demo acceptance's attention check)."""

import shutil

import numpy as np
import pytest

from memamba_core.data import load_cohort
from memamba_core.errors import InputError
from memamba_core.train.demo_check import attention_auroc
from tests._train_cohort import trained_run, one_thread  # one_thread: autouse fixture


def test_attention_auroc_on_out_of_fold_patients(tmp_path_factory):
    cohort, run = trained_run(tmp_path_factory)
    res = attention_auroc(run, cohort)
    pool = res["pathology/pool"]
    assert pool["n_slides"] == len(res["per_patient"]) > 10  # every patient is scored once, by the fold that held it out
    assert 0.0 <= pool["mean"] <= 1.0 and 0.0 <= pool["median"] <= 1.0
    assert res["pathology/ranked"]["n_slides"] == pool["n_slides"]


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
