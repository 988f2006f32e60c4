"""The dashboard's pure helper modules: tables/filters, slide views, background jobs."""

import sys
import time

import numpy as np
import pandas as pd
import pytest

from dashboard import _jobs, _runs, _tables, _views
from memamba_core.errors import InputError


@pytest.fixture()
def frame():
    return pd.DataFrame({
        "case_id": ["a", "b", "c", "d"], "risk": [0.1, 0.5, 0.9, 0.3],
        "S_1": [0.9, 0.8, 0.7, 0.95], "S_2": [0.8, 0.6, 0.4, 0.9],
        "survival_months": [10, 20, 5, 30], "event": [1, 0, 1, 0], "in_training": [True, False, False, True],
    })


def test_with_clinical_and_filters(frame):
    clin = pd.DataFrame({"oncotree_code": ["BLCA", "BLCA", "LUAD", "LUAD"], "site": ["x", "y", "x", None],
                         "age": [50, 60, 70, np.nan], "is_female": [1, 0, 1, 0], "event": [9, 9, 9, 9]},
                        index=pd.Index(["a", "b", "c", "d"], name="case_id"))
    df = _tables.with_clinical(frame, clin)
    assert df["event"].tolist() == [1, 0, 1, 0]  # predictions' own columns win
    opts = _tables.filter_options(df)
    assert opts["oncotree_code"] == ["BLCA", "LUAD"] and opts["age"] == (50, 70) and opts["is_female"]
    f = _tables.apply_filters
    assert f(df, cancer_types=["LUAD"])["case_id"].tolist() == ["c", "d"]
    assert f(df, sites=["x"])["case_id"].tolist() == ["a", "c"]
    assert f(df, age=(50, 70))["case_id"].tolist() == ["a", "b", "c", "d"]  # full range keeps unknown ages
    assert f(df, age=(55, 70))["case_id"].tolist() == ["b", "c"]
    assert f(df, sex="female")["case_id"].tolist() == ["a", "c"]
    assert f(df, held_out_only=True)["case_id"].tolist() == ["b", "c"]
    assert f(df, cancer_types=["BLCA"], sex="male")["case_id"].tolist() == ["b"]


def test_percentile_and_survival_matrix(frame):
    assert _tables.percentile_of(0.5, frame["risk"]) == pytest.approx(62.5)
    assert _tables.percentile_of(2.0, frame["risk"]) == 100
    assert np.isnan(_tables.percentile_of(1.0, []))
    frame["S_10"] = 0.1
    m = _tables.survival_matrix(frame)
    assert m.shape == (4, 3) and m[0].tolist() == [0.9, 0.8, 0.1]


class _Bag:
    coords = np.array([[0, 0], [512, 0], [0, 512], [512, 512]])
    slide_index = np.array([0, 1, 0, 1])
    slide_ids = ("s0", "s1")
    patch_size = 256
    patch_level = 1


def test_slide_patches_and_selection():
    sp = _views.slide_patches(_Bag(), 1, (1.0, 2.0, 8.0))
    assert sp.slide_id == "s1" and sp.index.tolist() == [1, 3] and sp.patch_size0 == 512
    assert sp.coords.tolist() == [[512, 0], [512, 512]]
    bag = _Bag()
    bag.coords = None
    assert _views.slide_patches(bag, 0, (1.0,)) is None and _views.slide_patches(None, 0, (1.0,)) is None
    ev = {"selection": {"points": [{"curve_number": 1, "point_index": 3, "customdata": 1}]}}
    assert _views.selected_patch(ev, 2) == 1
    assert _views.selected_patch({"selection": {"points": [{"point_index": 5}]}}, 2) is None
    assert _views.selected_patch({"selection": {"points": []}}, 2) is None and _views.selected_patch(None, 2) is None
    assert _views.attention_keys({"pathology/b": 1, "genomics/a": 1, "pathology/a": 1}) == ["pathology/a", "pathology/b"]


def test_progress_from_records():
    assert _runs.progress([]) == (0.0, "starting…")
    recs = [{"event": "run_start", "folds": 4, "skipping": [0]}, {"event": "fold_start", "fold": 1},
            {"event": "epoch", "fold": 1, "epoch": 2, "epochs": 4, "loss": 0.5}]
    frac, msg = _runs.progress(recs)
    assert frac == pytest.approx(0.25 + 0.5 / 4) and "fold 1 epoch 2/4" in msg and "loss 0.500" in msg
    recs.append({"event": "fold_end", "fold": 1})
    assert _runs.progress(recs)[0] == pytest.approx(0.5)
    assert _runs.progress(recs + [{"event": "run_end"}])[0] == 1.0


def _wait(job, want, timeout=10):
    end = time.time() + timeout
    while time.time() < end and _jobs.state(job) != want:
        time.sleep(0.05)
    return _jobs.state(job)


def test_job_lifecycle(tmp_path):
    py = [sys.executable, "-c"]
    job = _jobs.start(["import time,sys; print('hello', flush=True); time.sleep(30)"], tmp_path / "r1", program=py)
    assert _jobs.state(job) == "running"
    assert _jobs.load(tmp_path / "r1").pid == job.pid  # found again after a reload
    with pytest.raises(InputError, match="already running"):
        _jobs.start(["print(1)"], tmp_path / "r1", program=py)
    end = time.time() + 10
    while "hello" not in _jobs.tail(job.log_path) and time.time() < end:
        time.sleep(0.05)
    assert "hello" in _jobs.tail(job.log_path)
    _jobs.stop(job, timeout=5)
    assert _jobs.state(_jobs.load(tmp_path / "r1")) == "stopped"
    ok = _jobs.start(["print('done')"], tmp_path / "r2", program=py)
    bad = _jobs.start(["raise SystemExit(3)"], tmp_path / "r3", program=py)
    assert _wait(ok, "finished") == "finished" and _wait(bad, "failed") == "failed"
    assert _jobs.load(tmp_path / "r3").returncode == 3
    assert [j.run_dir for j in _jobs.find(tmp_path)][0].endswith("r3")
    assert _jobs.find(tmp_path / "nope") == [] and _jobs.tail(tmp_path / "nope.log") == ""


def test_train_args_and_cli():
    args = _runs.train_args("/c", "/r", model="memamba", modalities="both", epochs=3, n_folds=5, lr=2e-4, seed=1, d_model=64)
    assert args[:2] == ["train", "/c"] and args[args.index("--out") + 1] == "/r"
    assert args[args.index("--n-folds") + 1] == "5" and args[args.index("--d-model") + 1] == "64"


def test_train_args_parse_with_the_real_cli():
    from memamba_core.cli import build_parser

    args = _runs.train_args("/c", "/r", model="snn", modalities="genomics", epochs=2, n_folds=3, lr=1e-3, seed=4, d_model=32)
    ns = build_parser().parse_args(args)
    assert (str(ns.cohort), str(ns.out), ns.model_name, ns.modalities, ns.epochs, ns.n_folds, ns.seed, ns.d_model) == \
        ("/c", "/r", "snn", "genomics", 2, 3, 4, 32)
