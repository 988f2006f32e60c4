"""ensure_demo_model: built once into the cache on first use, then reused without retraining."""

import memamba_core.demo
import memamba_core.train.demo_model as dm
from memamba_core.train import TrainConfig, demo_train_config, load_checkpoint
from tests._train_cohort import make_cohort, tiny_train, one_thread  # one_thread: autouse fixture


def test_demo_recipe_is_a_valid_memamba_config():
    cfg = demo_train_config("full")
    assert isinstance(cfg, TrainConfig) and cfg.model.model == "memamba" and cfg.model.modalities == "both"
    assert cfg.selection == "last" and cfg.folds == "auto"
    assert demo_train_config("tiny").epochs < cfg.epochs


def test_built_once_then_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMAMBA_CACHE", str(tmp_path / "cache"))
    cohort_dir = make_cohort(tmp_path / "demo-tiny", n=12)
    calls = []
    monkeypatch.setattr(memamba_core.demo, "ensure_demo", lambda profile: calls.append(profile) or cohort_dir)
    monkeypatch.setattr(dm, "demo_train_config", lambda profile: tiny_train(epochs=1))
    run = dm.ensure_demo_model("tiny")
    assert run == tmp_path / "cache" / "demo-tiny-model" and calls == ["tiny"]
    assert (run / "summary.json").is_file() and load_checkpoint(run).cohort_name == "demo-tiny"
    stamp = (run / "fold_0" / "model.safetensors").stat().st_mtime_ns
    assert dm.ensure_demo_model("tiny") == run
    assert calls == ["tiny"]  # second call: the cohort is not even loaded
    assert (run / "fold_0" / "model.safetensors").stat().st_mtime_ns == stamp
