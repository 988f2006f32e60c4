"""Checkpoints: loading fold/run folders, and clear errors for corrupt or mismatched files."""

import json
import pickle
import shutil

import numpy as np
import pytest
import torch

from memamba_core.errors import InputError
from memamba_core.runs import FoldPaths, RunPaths, read_oof
from memamba_core.train import load_checkpoint, predict_cohort
from tests._train_cohort import trained_run, one_thread  # one_thread: autouse fixture


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return trained_run(tmp_path_factory)


def _copy_fold(run, tmp_path, k=0):
    dst = tmp_path / f"fold_{k}"
    shutil.copytree(run / f"fold_{k}", dst)
    return dst


def test_load_fold_and_run_folder(trained):
    cohort, run = trained
    a = load_checkpoint(run)  # run folder → first finished fold
    b = load_checkpoint(run / "fold_0")
    c = load_checkpoint(RunPaths(run).fold(0).weights)
    assert a.fold == b.fold == c.fold == 0
    assert not a.model.training
    assert a.cuts.shape == (3,) and a.groups.names == ("A", "B", "C") and a.feature_dim == 8
    assert a.scaler is not None and len(a.scaler.columns) == 12
    assert load_checkpoint(run, fold=2).fold == 2
    with pytest.raises(InputError, match="fold 7 is not finished"):
        load_checkpoint(run, fold=7)


def test_loaded_model_reproduces_out_of_fold_predictions(trained):
    cohort, run = trained
    oof = read_oof(run).frame
    for k in range(3):
        loaded = load_checkpoint(run, fold=k)
        part = oof[oof.fold == k].set_index("case_id")
        pred = predict_cohort(loaded, cohort, case_ids=list(part.index)).set_index("case_id")
        np.testing.assert_allclose(pred.loc[part.index, "risk"], part.risk, atol=1e-5)
        assert not pred["in_training"].any()


def test_corrupt_weights(trained, tmp_path):
    _, run = trained
    d = _copy_fold(run, tmp_path)
    FoldPaths(d).weights.write_bytes(b"\x00garbage, not a safetensors file" * 10)
    with pytest.raises(InputError, match="not a valid safetensors file"):
        load_checkpoint(d)
    FoldPaths(d).weights.write_bytes(pickle.dumps({"w": [1, 2]}))
    with pytest.raises(InputError, match="torch pickle"):
        load_checkpoint(d)
    FoldPaths(d).weights.write_bytes(RunPaths(run).fold(0).weights.read_bytes()[:100])  # truncated
    with pytest.raises(InputError, match="not a valid safetensors file"):
        load_checkpoint(d)


def test_corrupt_or_missing_meta(trained, tmp_path):
    _, run = trained
    d = _copy_fold(run, tmp_path)
    FoldPaths(d).meta.write_text("{truncated")
    with pytest.raises(InputError, match="corrupt or unreadable checkpoint metadata"):
        load_checkpoint(d)
    FoldPaths(d).meta.unlink()
    with pytest.raises(InputError, match="missing; a checkpoint folder needs its meta record"):
        load_checkpoint(d)
    with pytest.raises(InputError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "nowhere")
    with pytest.raises(InputError, match="holds no finished fold"):
        load_checkpoint(tmp_path / "fold_0" / "..")


def test_config_does_not_match_weights(trained, tmp_path):
    _, run = trained
    d = _copy_fold(run, tmp_path)
    meta = json.loads(FoldPaths(d).meta.read_text())
    meta["model_config"]["d_model"] = 24
    FoldPaths(d).meta.write_text(json.dumps(meta))
    with pytest.raises(InputError, match=r"do not match the model config .*shape mismatch.*checkpoint \(\d+, \d+\) vs model"):
        load_checkpoint(d)
    meta["model_config"]["d_model"] = 16
    meta["model_config"]["n_layers"] = 2  # a deeper model: its second layer's keys are not in the checkpoint
    FoldPaths(d).meta.write_text(json.dumps(meta))
    with pytest.raises(InputError, match="key\\(s\\) the model needs are absent: .*layers\\.1"):
        load_checkpoint(d)


def test_weights_are_never_unpickled(trained, tmp_path, monkeypatch):
    _, run = trained
    calls = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(k) or real(*a, **k))
    load_checkpoint(run)
    assert all(k.get("weights_only") is True for k in calls)
