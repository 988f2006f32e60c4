"""The registry of models and choices: adding a baseline is one file plus one registry line; every choice list reads it."""

import sys
import textwrap

import pytest

import memamba_core.models.registry as registry
from memamba_core.cli import build_parser
from memamba_core.errors import InputError
from memamba_core.models import (ModelConfig, build_model, choices, describe, describe_choice, modality_reads, model_names,
                                 model_reads, register_model)
from memamba_core.ssm import BACKENDS
from memamba_core.train import TrainConfig
from memamba_core.train.ablate import ablation_grid
from memamba_core.train.config import model_template
from tests._train_cohort import make_cohort, tiny_train, one_thread  # one_thread: autouse fixture

BASELINE = '''
"""A throw-away baseline: mean of the projected patches -> MLP head."""
from memamba_core.models.base import SurvivalModel
from memamba_core.models.layers import patch_projection, risk_mlp
from memamba_core.models.output import make_output
from memamba_core.models.registry import register_model


@register_model("mean_pool", reads=("pathology",), description="mean of the projected patches, MLP head")
class MeanPool(SurvivalModel):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.proj = patch_projection(cfg.path_input_dim, cfg.d_model, cfg.dropout)
        self.head = risk_mlp(cfg.d_model, cfg.d_model, cfg.n_bins, cfg.dropout)

    def forward(self, path, omics=None):
        path, _ = self._inputs(path, None)
        return make_output(self.head(self.proj(path).mean(dim=0)), expert_weights={"pathology": 1.0})
'''


@pytest.fixture()
def new_baseline(tmp_path, monkeypatch):
    """``my_baseline.py`` on the path and its module added to MODEL_MODULES (the one registry line)."""
    (tmp_path / "my_baseline.py").write_text(textwrap.dedent(BASELINE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))
    monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.setattr(registry, "MODEL_MODULES", registry.MODEL_MODULES + ("my_baseline",))
    yield
    sys.modules.pop("my_baseline", None)


def test_adding_a_baseline_is_one_file_and_one_registry_line(new_baseline, tmp_path):
    from memamba_core.data import load_cohort
    from memamba_core.train import load_checkpoint, predict_cohort, train_cv

    assert model_names()[-1] == "mean_pool" and model_names()[0] == "memamba"
    assert describe("mean_pool") == "mean of the projected patches, MLP head (reads pathology)"
    cfg = ModelConfig(model="mean_pool", path_input_dim=8, d_model=16)
    assert cfg.uses_pathology and not cfg.uses_genomics and type(build_model(cfg)).__name__ == "MeanPool"
    args = build_parser().parse_args(["train", "c", "--out", "r", "--model", "mean_pool"])  # the CLI offers it
    assert args.model_name == "mean_pool"
    train = tiny_train(model={"model": "mean_pool"}, epochs=1)
    assert ablation_grid(train) == {"full": {}}  # no switch of its own, one modality
    cohort = load_cohort(make_cohort(tmp_path / "c", n=12))
    summary = train_cv(cohort, train, tmp_path / "run", progress=False)
    assert summary["complete"] and summary["model"] == "mean_pool"
    table = predict_cohort(load_checkpoint(tmp_path / "run", fold=1), cohort)
    assert len(table) == 12 and table["risk"].notna().all()


def test_registering_is_checked():
    with pytest.raises(ValueError, match="reads must be a non-empty subset"):
        register_model("x", reads=("slides",), description="?")
    with pytest.raises(ValueError, match="'snn' is already registered by SNN"):
        register_model("snn", reads=("genomics",), description="another")(type("Other", (), {}))


def test_backends_come_from_the_ssm_and_unknown_values_name_the_choices():
    assert choices("backend") == tuple(BACKENDS)
    assert ModelConfig(backend="cpu").backend == "cpu"
    for field, value in (("backend", "gpu"), ("model", "transmil"), ("ot", "soft"), ("modalities", "all")):
        with pytest.raises(InputError, match=f"Model config: {field}='{value}' is not one of {', '.join(choices(field))}"):
            ModelConfig(**{field: value})
    for field in ("optimizer", "selection", "folds"):
        with pytest.raises(InputError, match=f"{field} must be one of {', '.join(choices(field))}, got 'nope'"):
            TrainConfig(**{field: "nope"})


def test_every_choice_is_described_and_models_say_what_they_read():
    for field in ("model", "ot", "modalities", "optimizer", "selection", "folds"):
        assert all(describe_choice(field, v) for v in choices(field)), field
    assert {n: model_reads(n) for n in model_names()} == {
        "memamba": ("pathology", "genomics"), "abmil": ("pathology",), "snn": ("genomics",), "mambamil": ("pathology",),
        "late_fusion": ("pathology", "genomics")}
    assert modality_reads("both") == ("pathology", "genomics") and modality_reads("genomics") == ("genomics",)
    with pytest.raises(InputError, match="modalities='x' is not one of both, pathology, genomics"):
        modality_reads("x")


def test_cli_choices_are_the_registry_s():
    parser = build_parser()
    train = next(a for a in parser._subparsers._group_actions[0].choices["train"]._actions if a.dest == "model_name")
    assert tuple(train.choices) == model_names()
    for dest, field in (("optimizer", "optimizer"), ("selection", "selection"), ("folds", "folds"), ("modalities", "modalities")):
        action = next(a for a in parser._subparsers._group_actions[0].choices["ablate"]._actions if a.dest == dest)
        assert tuple(action.choices) == choices(field)


def _grid(**model):
    return ablation_grid(TrainConfig(model=model_template(**model)))


def test_the_ablation_grid_varies_the_switches_each_model_has():
    assert list(_grid()) == ["full", "no_scan_forward", "no_scan_reverse", "no_scan_ranked", "no_ot", "ot_sinkhorn",
                             "no_mmd", "concatenated", "pathology_only", "genomics_only"]
    assert _grid()["no_ot"] == {"ot": "off"} and _grid()["genomics_only"] == {"modalities": "genomics"}
    off = _grid(ot="off", mmd_weight=0.0, scan_ranked=False, modalities="pathology")
    assert list(off) == ["full", "no_scan_forward", "no_scan_reverse", "ot_sinkhorn", "concatenated"]  # no switch repeated
    assert list(_grid(model="abmil")) == ["full"]
    assert list(_grid(model="late_fusion")) == ["full", "pathology_only", "genomics_only"]
