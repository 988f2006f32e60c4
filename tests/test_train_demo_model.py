"""ensure_demo_model: built once into the cache on first use, then reused without retraining."""

import json
import shutil

import pytest

import memamba_core.demo
import memamba_core.train.demo_model as dm
from memamba_core.demo.profiles import get_profile
from memamba_core.runs import RunPaths, ablation_table, read_demo_spec, read_run_record, read_summary
from memamba_core.train import TrainConfig, demo_train_config, load_checkpoint
from memamba_core.train.ablate import ablation_grid
from tests._train_cohort import make_cohort, tiny_train, one_thread  # one_thread: autouse fixture


def test_demo_recipe_is_a_valid_memamba_config():
    cfg = demo_train_config("full")
    assert isinstance(cfg, TrainConfig) and cfg.model.model == "memamba" and cfg.model.modalities == "both"
    assert cfg.selection == "last" and cfg.folds == "auto"
    assert demo_train_config("tiny").epochs < cfg.epochs


@pytest.fixture()
def built_run(tmp_path, monkeypatch):
    """A tiny demo run trained into a first cache, and the patched demo hooks."""
    monkeypatch.setenv("MEMAMBA_CACHE", str(tmp_path / "cache"))
    cohort_dir = make_cohort(tmp_path / "demo-tiny", n=12)
    calls = []
    monkeypatch.setattr(memamba_core.demo, "ensure_demo", lambda profile: calls.append(profile) or cohort_dir)
    monkeypatch.setattr(dm, "demo_train_config", lambda profile: tiny_train(epochs=1))
    return dm.ensure_demo_model("tiny"), calls


@pytest.mark.slow
def test_built_once_then_reused(built_run, tmp_path):
    run, calls = built_run
    assert run == tmp_path / "cache" / "demo-tiny-model" and calls == ["tiny"]
    assert read_summary(run)["complete"] and load_checkpoint(run).cohort_name == "demo-tiny"
    weights = RunPaths(run).fold(0).weights
    stamp = weights.stat().st_mtime_ns
    assert dm.ensure_demo_model("tiny") == run
    assert calls == ["tiny"]  # second call: the cohort is not even loaded
    assert weights.stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_shipped_run_is_copied_instead_of_training(built_run, tmp_path, monkeypatch):
    run, calls = built_run
    assets = tmp_path / "assets"
    shutil.copytree(run, assets / "demo-model-tiny")
    monkeypatch.setattr(dm, "ASSETS", assets)
    monkeypatch.setenv("MEMAMBA_CACHE", str(tmp_path / "fresh-cache"))
    got = dm.ensure_demo_model("tiny")
    assert got == tmp_path / "fresh-cache" / "demo-tiny-model"
    assert calls == ["tiny"]  # no second training: the shipped run was used
    assert RunPaths(got).fold(0).weights.read_bytes() == RunPaths(run).fold(0).weights.read_bytes()
    assert load_checkpoint(got).cohort_name == "demo-tiny"


@pytest.mark.slow
def test_run_for_another_demo_spec_is_stale_and_retrained(built_run):
    run, calls = built_run
    spec = read_demo_spec(run)
    RunPaths(run).demo_spec.write_text(json.dumps({**spec, "version": -1}))
    assert dm.ensure_demo_model("tiny") == run
    assert calls == ["tiny", "tiny"]  # retrained for the current generator
    assert read_demo_spec(run) == spec


@pytest.mark.slow
def test_shipped_run_for_another_spec_is_not_used(built_run, tmp_path, monkeypatch):
    run, calls = built_run
    assets = tmp_path / "assets"
    shutil.copytree(run, assets / "demo-model-tiny")
    RunPaths(assets / "demo-model-tiny").demo_spec.write_text("{}")
    monkeypatch.setattr(dm, "ASSETS", assets)
    monkeypatch.setenv("MEMAMBA_CACHE", str(tmp_path / "fresh-cache"))
    dm.ensure_demo_model("tiny")
    assert calls == ["tiny", "tiny"]


def test_shipped_checkpoint_is_current():
    """assets/demo-model-full was trained on today's generator with today's recipe.

    Otherwise the dashboard would retrain on first use (minutes) and the README's demo
    figures would describe another model: regenerate it with
    ``memamba demo --model --retrain`` (assets/README.md).
    """
    run = dm.shipped_demo_model("full")
    assert read_demo_spec(run) == memamba_core.demo.demo_spec("full")
    assert TrainConfig.from_dict(read_run_record(run).train) == demo_train_config("full")
    summary = read_summary(run)
    assert summary["complete"] and summary["n_folds_finished"] == get_profile("full").n_folds


def test_shipped_ablation_table_belongs_to_the_shipped_checkpoint():
    """The demo ships its cross-validated ablation table (``memamba ablate`` with the demo recipe) beside
    the checkpoint: its ``full`` row is that checkpoint's run, and every switch of the grid has a row."""
    run = dm.shipped_demo_model("full")
    table = ablation_table(run)
    assert table is not None
    assert list(table["variant"]) == list(ablation_grid(demo_train_config("full")))
    full = table.set_index("variant").loc["full"]
    summary = read_summary(run)
    assert full["c_index_mean"] == pytest.approx(summary["mean"]["c_index"], abs=1e-4)
    for f in summary["folds"]:
        assert full[f"c_index_fold_{f['fold']}"] == pytest.approx(f["c_index"], abs=1e-4)
