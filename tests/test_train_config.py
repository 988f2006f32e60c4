"""TrainConfig: JSON round trip, validation, reading a run folder's config."""

import json

import pytest

from memamba_core.errors import InputError
from memamba_core.train import TrainConfig
from memamba_core.train.config import model_template


def test_json_round_trip(tmp_path):
    cfg = TrainConfig(model=model_template(d_model=32, ot="sinkhorn", modalities="genomics"), optimizer="adam", lr=1e-3,
                      selection="inner_val", max_train_patches=100, grad_accum=8, seed=3)
    back = TrainConfig.from_dict(json.loads(cfg.to_json()))
    assert back == cfg
    assert "omic_sizes" not in cfg.to_dict()["model"]  # data-dependent: filled from the cohort
    p = tmp_path / "cfg.json"
    p.write_text(cfg.to_json())
    assert TrainConfig.from_json(p) == cfg
    # a run folder's config.json (train block nested) is accepted too
    p.write_text(json.dumps({"format": "memamba-run", "train": cfg.to_dict()}))
    assert TrainConfig.from_json(p) == cfg


def test_a_real_run_record_gives_its_training_config():
    """`memamba train --config RUN/config.json` repeats a run: its record also holds the model, cohort and folds."""
    from memamba_core.cli import build_parser
    from memamba_core.cli.commands import _train_config
    from memamba_core.runs import RunPaths
    from memamba_core.train import demo_train_config
    from memamba_core.train.demo_model import shipped_demo_model

    record = RunPaths(shipped_demo_model("full")).config
    assert TrainConfig.from_json(record) == demo_train_config("full")
    args = build_parser().parse_args(["train", "c", "--out", "r", "--config", str(record), "--epochs", "2"])
    assert _train_config(args) == demo_train_config("full").replace(epochs=2)


def test_a_nested_run_record_is_refused(tmp_path):
    p = tmp_path / "record.json"
    p.write_text(json.dumps({"format": "memamba-run", "procedure": "nested", "grid": {"a": {}}}))
    with pytest.raises(InputError, match="a nested run's record holds no single training config"):
        TrainConfig.from_json(p)


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"optimizer": "sgd"}, "optimizer must be one of adam, adamw"),
        ({"selection": "best_val"}, "selection must be one of last, inner_val"),
        ({"lr": 0}, "lr must be > 0"),
        ({"epochs": 0}, "epochs must be ≥ 1"),
        ({"grad_accum": 0}, "grad_accum must be ≥ 1"),
        ({"n_bins": 1}, "n_bins must be ≥ 2"),
        ({"folds": "random"}, "folds must be one of"),
        ({"max_train_patches": -1}, "max_train_patches"),
    ],
)
def test_invalid_values_name_the_field(changes, match):
    with pytest.raises(InputError, match=match):
        TrainConfig(**changes)


def test_unknown_keys_and_bad_files(tmp_path):
    with pytest.raises(InputError, match="unknown key\\(s\\) learning_rate"):
        TrainConfig.from_dict({"learning_rate": 1e-3})
    with pytest.raises(InputError, match="unknown model field\\(s\\) width"):
        TrainConfig.from_dict({"model": {"width": 3}})
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(InputError, match="cannot read a training config"):
        TrainConfig.from_json(p)


def test_replace_changes_model_fields():
    cfg = TrainConfig().replace(epochs=3, model={"d_model": 8})
    assert cfg.epochs == 3 and cfg.model.d_model == 8
