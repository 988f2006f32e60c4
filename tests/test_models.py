"""Models: config, outputs, missing modality, determinism, a training step, the baselines."""

import json

import pytest
import torch

from memamba_core.errors import InputError
from memamba_core.models import ModelConfig, SurvivalOutput, build_model, model_names, model_reads, ot_choices
from memamba_core.survival import nll_loss
from tests._model_helpers import D_IN, OMIC_SIZES, patient, single_thread, tiny_config  # noqa: F401


def test_config_round_trips_through_json():
    cfg = tiny_config(ot="sinkhorn", scan_ranked=False, mmd_weight=0.0)
    again = ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert again.omic_sizes == OMIC_SIZES and again.d_inner == 32 and again.dt_rank == 1
    assert "d_inner" not in cfg.to_dict()


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(model="transmil"), "model='transmil'"),
        (dict(ot="soft"), "ot='soft'"),
        (dict(modalities="rna"), "modalities"),
        (dict(backend="gpu"), "backend"),
        (dict(d_model=0), "d_model must be a positive integer"),
        (dict(n_layers=1.5), "n_layers"),
        (dict(dropout=1.0), "dropout"),
        (dict(mmd_weight=-0.1), "mmd_weight"),
        (dict(omic_sizes=(3, 0)), "omic_sizes must all be"),
        (dict(scan_forward="yes"), "scan_forward"),
        (dict(omic_sizes="abc"), "omic_sizes must be a list"),
        (dict(dropout="0.1"), "dropout must be a number"),
    ],
)
def test_config_rejects_bad_values(changes, message):
    with pytest.raises(InputError, match=message):
        tiny_config(**changes)


def test_config_from_dict_rejects_unknown_fields():
    with pytest.raises(InputError, match="unknown field"):
        ModelConfig.from_dict(tiny_config().to_dict() | {"heads": 8})


def test_default_config_constructs_and_building_without_groups_says_what_to_fix():
    cfg = ModelConfig()
    assert cfg.model == "memamba" and cfg.omic_sizes == ()
    with pytest.raises(InputError, match="omic_sizes is empty"):
        build_model(cfg)
    with pytest.raises(InputError, match="omic_sizes is empty"):
        build_model(tiny_config(model="snn", omic_sizes=()))


def test_pathology_only_config_needs_no_genomics():
    cfg = tiny_config(omic_sizes=(), modalities="pathology")
    out = build_model(cfg)(patient()[0], None)
    assert out.expert_weights["pathology"] == pytest.approx(1.0)


def _check_output(out: SurvivalOutput, n_bins: int = 4):
    assert out.logits.shape == out.hazards.shape == out.survival.shape == (n_bins,)
    assert out.risk.shape == () and out.mmd.shape == ()
    torch.testing.assert_close(out.risk, -out.survival.sum())
    assert (out.survival[1:] <= out.survival[:-1] + 1e-7).all()
    assert sum(out.expert_weights.values()) == pytest.approx(1.0)
    for weights in out.attention.values():
        assert float(weights.sum()) == pytest.approx(1.0, abs=1e-5)


def test_memamba_output_has_everything_the_dashboard_draws():
    torch.manual_seed(0)
    model = build_model(tiny_config()).eval()
    path, omics = patient(n_patches=25)
    out = model(path, omics)
    _check_output(out)
    assert {k: tuple(v.shape) for k, v in out.attention.items()} == {
        "pathology/ranked": (25,),
        "pathology/pool": (25,),
        "genomics/ranked": (3,),
        "genomics/pool": (3,),
        "synergy/pool": (6,),
    }
    assert out.transport_plan.shape == (25, 3)
    torch.testing.assert_close(out.transport_plan.sum(1), torch.ones(25))
    assert set(out.expert_weights) == {"pathology", "genomics", "synergy"}
    assert all(w > 0 for w in out.expert_weights.values())
    assert out.mmd.item() > 0


@pytest.mark.parametrize("kind", ["pathology", "genomics"])
def test_missing_modality_drops_its_expert_and_the_synergy(kind):
    torch.manual_seed(0)
    model = build_model(tiny_config()).eval()
    path, omics = patient()
    out = model(path, None) if kind == "pathology" else model(None, omics)
    _check_output(out)
    assert out.expert_weights[kind] == pytest.approx(1.0)
    assert out.expert_weights["synergy"] == 0.0
    assert out.transport_plan is None and out.mmd.item() == 0.0
    assert all(k.startswith(kind) for k in out.attention)


@pytest.mark.parametrize("n_patches, sizes", [(1, (4,)), (2, (1, 1)), (300, (1,) * 400), (100_000, (3, 2))])
def test_extreme_bag_and_group_counts(n_patches, sizes):
    """N from 1 to 100,000 patches, G from 1 to 400 groups."""
    torch.manual_seed(0)
    model = build_model(tiny_config(omic_sizes=sizes)).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        out = model(torch.randn(n_patches, D_IN, generator=g), [torch.randn(s, generator=g) for s in sizes])
    _check_output(out)
    assert out.transport_plan.shape == (n_patches, len(sizes))
    assert out.attention["synergy/pool"].shape == (2 * len(sizes),)


def test_input_errors_name_the_fix():
    model = build_model(tiny_config())
    path, omics = patient()
    with pytest.raises(InputError, match=f"expects \\(N, {D_IN}\\)"):
        model(torch.randn(5, D_IN + 1), omics)
    with pytest.raises(InputError, match="empty"):
        model(torch.randn(0, D_IN), omics)
    with pytest.raises(InputError, match="sizes"):
        model(path, omics[:2])
    with pytest.raises(InputError, match="Nothing to predict"):
        model(None, None)
    with pytest.raises(InputError, match="Nothing to predict"):
        build_model(tiny_config(model="abmil"))(None, omics)


def test_deterministic_under_a_fixed_seed():
    path, omics = patient()
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = build_model(tiny_config(dropout=0.25))
        model.train()
        torch.manual_seed(7)
        outs.append(model(path, omics))
    torch.testing.assert_close(outs[0].logits, outs[1].logits, rtol=0, atol=0)
    torch.testing.assert_close(outs[0].mmd, outs[1].mmd, rtol=0, atol=0)


@pytest.mark.parametrize("name", model_names())
def test_one_training_step_lowers_the_loss(name):
    """A tiny synthetic cohort: one optimiser step (full batch) lowers NLL (+ MMD)."""
    torch.manual_seed(0)
    model = build_model(tiny_config(model=name, ot="sinkhorn" if name == "memamba" else "hard"))
    model.train()
    cohort = [patient(n_patches=10 + 3 * i, seed=i) for i in range(6)]
    bins = torch.tensor([0, 1, 2, 3, 1, 0])
    censorship = torch.tensor([0, 0, 1, 0, 1, 0])
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)

    def loss_value():
        outs = [model(p, o) for p, o in cohort]
        logits = torch.stack([o.logits for o in outs])
        return nll_loss(logits, bins, censorship) + torch.stack([o.mmd for o in outs]).mean()

    model.eval()  # dropout off so the two evaluations are comparable
    loss = loss_value()
    opt.zero_grad()
    loss.backward()
    opt.step()
    with torch.no_grad():
        after = loss_value()
    assert after.item() < loss.item()


@pytest.mark.parametrize("name", [n for n in model_names() if n != "memamba"])
def test_baselines_return_survival_output(name):
    torch.manual_seed(0)
    model = build_model(tiny_config(model=name)).eval()
    path, omics = patient()
    out = model(path, omics)
    _check_output(out)
    if "pathology" in model_reads(name):
        assert out.attention["pathology/pool"].shape == (len(path),)
    if name == "late_fusion":
        single = model(path, None)
        assert single.expert_weights == {"pathology": 1.0, "genomics": 0.0}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("ot", [o for o in ot_choices() if o != "off"])
def test_inference_path_equals_autograd_path(dtype, ot):
    """Under torch.inference_mode the experts stream their scans (the fast CPU path): the output,
    attention, plan and expert weights equal those of the autograd forward within dtype tolerance."""
    torch.manual_seed(0)
    model = build_model(tiny_config(n_layers=2, ot=ot)).to(dtype).eval()
    path, omics = patient(n_patches=53, seed=3)
    path, omics = path.to(dtype), [o.to(dtype) for o in omics]
    ref = model(path, omics)
    with torch.inference_mode():
        fast = model(path, omics)
    tol = dict(rtol=1e-9, atol=1e-10) if dtype == torch.float64 else dict(rtol=2e-4, atol=2e-5)
    for name in ("logits", "hazards", "survival", "risk", "transport_plan", "mmd"):
        torch.testing.assert_close(getattr(fast, name), getattr(ref, name).detach(), **tol)
    assert set(fast.attention) == set(ref.attention)
    for key in ref.attention:
        torch.testing.assert_close(fast.attention[key], ref.attention[key], **tol)
    assert fast.expert_weights == pytest.approx(ref.expert_weights, rel=1e-4)
