"""Issue 14: numbers are finite or the command fails; weights carry a content hash checked at load;
duplicated prediction rows are refused; one unreadable patient is left out of a cohort, not the cohort.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from memamba_core.cli import main
from memamba_core.data import load_cohort
from memamba_core.errors import InputError
from memamba_core.runs import FoldPaths, RunPaths, file_names, read_fold_meta, read_oof
from memamba_core.train import load_checkpoint, predict_cohort
from memamba_core.train.evaluate import fold_metrics
from tests._hypothesis import folder_digest
from tests._train_cohort import one_thread, trained_run  # one_thread: autouse fixture

NAMES = file_names()
ASSET = Path(__file__).resolve().parents[1] / "assets" / "demo-model-full"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return trained_run(tmp_path_factory)


def _copy_run(run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    return dst


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _set_meta(fold: FoldPaths, **changes) -> None:
    meta = json.loads(fold.meta.read_text())
    meta.update(changes)
    for k in [k for k, v in changes.items() if v is None]:
        del meta[k]
    fold.meta.write_text(json.dumps(meta))


# ---- the weights' content hash ------------------------------------------------------------------
def test_training_records_the_weights_hash(trained):
    _, run = trained
    for f in RunPaths(run).fold_dirs():
        assert read_fold_meta(f).weights_sha256 == _sha(f.weights)


def test_a_flipped_bit_in_the_weights_is_refused(trained, tmp_path):
    _, run = trained
    run = _copy_run(run, tmp_path)
    w = RunPaths(run).fold(0).weights
    data = bytearray(w.read_bytes())
    data[-3] ^= 0x10  # inside the last tensor: still a valid safetensors file
    w.write_bytes(bytes(data))
    st_load(bytes(data))  # parses: only the hash can tell
    with pytest.raises(InputError, match=re.escape(NAMES["weights"]) + r": the weights file does not match the content hash"):
        load_checkpoint(run, fold=0)
    load_checkpoint(run, fold=1)  # the other folds are intact


def test_a_meta_without_the_hash_loads_unchecked(trained, tmp_path):
    _, run = trained
    run = _copy_run(run, tmp_path)
    fold = RunPaths(run).fold(0)
    _set_meta(fold, weights_sha256=None)
    assert read_fold_meta(fold).weights_sha256 is None
    assert load_checkpoint(fold.dir).fold == 0


@pytest.mark.parametrize("bad", ["abc", 5, "G" * 64, ["x"]])
def test_a_malformed_hash_is_refused(trained, tmp_path, bad):
    _, run = trained
    run = _copy_run(run, tmp_path)
    fold = RunPaths(run).fold(0)
    _set_meta(fold, weights_sha256=bad)
    with pytest.raises(InputError, match=re.escape(NAMES["meta"]) + r": 'weights_sha256' must be the 64 hex digits"):
        load_checkpoint(fold.dir)


def test_the_shipped_demo_checkpoint_carries_its_hashes():
    folds = RunPaths(ASSET).fold_dirs()
    assert len(folds) == 5
    for f in folds:
        assert read_fold_meta(f).weights_sha256 == _sha(f.weights)


# ---- NaN weights and predictions ----------------------------------------------------------------
def test_nan_weights_fail_predict_naming_the_checkpoint(trained, tmp_path, capsys):
    cohort, run = trained
    run = _copy_run(run, tmp_path)
    fold = RunPaths(run).fold(0)
    state = st_load(fold.weights.read_bytes())
    name = sorted(k for k, v in state.items() if v.is_floating_point())[0]
    state[name] = torch.full_like(state[name], float("nan"))
    fold.weights.write_bytes(st_save(state))
    _set_meta(fold, weights_sha256=_sha(fold.weights))  # as a diverged training would have recorded it
    out = tmp_path / "p.csv"
    assert main(["predict", str(fold.dir), str(cohort.root), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{fold.weights}: 1 weight tensor(s) hold NaN or infinite values ({name})" in err and "Retrain" in err
    assert not out.exists()


def test_a_non_finite_prediction_is_an_error_naming_checkpoint_and_patient(trained):
    cohort, run = trained
    loaded = load_checkpoint(run)
    with torch.no_grad():
        next(p for p in loaded.model.parameters() if p.is_floating_point()).fill_(float("inf"))
    with pytest.raises(InputError, match=r"non-finite risk or survival curve for patient P0\d\d") as e:
        predict_cohort(loaded, cohort)
    assert str(loaded.path) in str(e.value)


@pytest.mark.parametrize("cuts, msg", [(["a", 3.0], r"'cuts'\[0\] is 'a'"), ([float("nan"), 3.0], r"'cuts'\[0\] is nan"),
                                       ([9.0, 3.0], "not in increasing order"), ("12", "must be a list")])
def test_bad_cut_points_are_input_errors(trained, tmp_path, cuts, msg):
    _, run = trained
    run = _copy_run(run, tmp_path)
    fold = RunPaths(run).fold(0)
    meta = json.loads(fold.meta.read_text())
    meta["cuts"] = cuts
    fold.meta.write_text(json.dumps(meta))  # json writes NaN as NaN, as a careless tool would
    with pytest.raises(InputError, match=msg):
        load_checkpoint(fold.dir)


def test_a_non_finite_metric_is_undefined_with_a_note():
    t = np.array([5.0, 8.0, 13.0, 20.0])
    cens = np.array([0, 0, 1, 0])
    surv = np.array([[0.9, 0.5], [0.8, 0.4], [0.7, 0.3], [0.6, 0.2]])
    risk = np.array([1.0, np.nan, 0.5, 0.1])
    m = fold_metrics(t, cens, t, cens, risk, surv, np.array([10.0]))
    for name in ("c_index", "ipcw_c_index", "integrated_brier", "mean_auc"):
        v = m[name]
        assert v is None or np.isfinite(v)
        if v is None:
            assert m["notes"][name]
    json.dumps(m, allow_nan=False)


# ---- duplicated out-of-fold rows ----------------------------------------------------------------
def test_duplicated_out_of_fold_rows_are_refused(trained, tmp_path, capsys):
    _, run = trained
    run = _copy_run(run, tmp_path)
    oof = RunPaths(run).oof
    df = pd.read_csv(oof, dtype={"case_id": str})
    pd.concat([df, df.iloc[[2]]]).to_csv(oof, index=False)
    with pytest.raises(InputError, match=re.escape(NAMES["oof"]) + r": 1 duplicated row\(s\) for patient\(s\) P0\d\d \(rows \d+, \d+\)"):
        read_oof(run)
    before = folder_digest(run)
    assert main(["evaluate", str(run), "--n-boot", "10"]) == 2
    assert "duplicated row" in capsys.readouterr().err
    assert folder_digest(run) == before


# ---- a bad patient is left out, not the cohort --------------------------------------------------
def test_one_unreadable_bag_is_skipped_and_listed(trained, tmp_path, capsys):
    cohort, run = trained
    root = tmp_path / "cohort"
    shutil.copytree(cohort.root, root)
    (root / "pt_files" / "S003.pt").write_bytes(b"truncated")
    c = load_cohort(root)
    df = predict_cohort(load_checkpoint(run), c)
    assert "P003" not in set(df["case_id"]) and len(df) == len(c.case_ids()) - 1
    assert list(df.attrs["skipped"]) == ["P003"] and "S003.pt" in df.attrs["skipped"]["P003"]
    assert np.isfinite(df["risk"]).all()
    out = tmp_path / "p.csv"
    assert main(["predict", str(run), str(root), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "skipped P003:" in err and "S003.pt" in err and "1 patient(s) could not be read" in err  # the run (out-of-fold) path says the same
    assert set(pd.read_csv(out)["case_id"]) == set(df["case_id"])


def test_a_clean_cohort_has_no_skipped_patients(trained):
    cohort, run = trained
    df = predict_cohort(load_checkpoint(run), cohort)
    assert df.attrs["skipped"] == {} and len(df) == len(cohort.case_ids())
