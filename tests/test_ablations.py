"""Each ablation switch really removes its component: outputs change, its parameters get no gradient."""

import pytest
import torch

from memamba_core.errors import InputError
from memamba_core.models import build_model, with_switches
from tests._model_helpers import patient, single_thread, tiny_config  # noqa: F401


def _run(model, path, omics):
    model.zero_grad(set_to_none=True)
    out = model(path, omics)
    (out.risk + out.mmd).backward()
    grads = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    return out, grads


# switch → (changes, parameter-name prefixes that must get no gradient)
ABLATIONS = {
    "scan_forward": (
        dict(scan_forward=False),
        ["path_expert.layers.0.mambas.scan_forward.", "omic_expert.layers.0.mambas.scan_forward."],
    ),
    "scan_reverse": (
        dict(scan_reverse=False),
        ["path_expert.layers.0.mambas.scan_reverse.", "omic_expert.layers.0.mambas.scan_reverse."],
    ),
    "scan_ranked": (
        dict(scan_ranked=False),
        ["path_expert.layers.0.mambas.scan_ranked.", "path_expert.layers.0.scorer.", "omic_expert.layers.0.scorer."],
    ),
    "pathology_only": (dict(modalities="pathology"), ["omic_proj.", "omic_expert.", "synergy."]),
    "genomics_only": (dict(modalities="genomics"), ["path_proj.", "path_expert.", "synergy."]),
    "ot_off": (dict(ot="off"), []),
    "ot_sinkhorn": (dict(ot="sinkhorn"), []),
    "mmd_off": (dict(mmd_weight=0.0), []),
    "concatenated": (dict(interleave=False), []),
}


@pytest.mark.parametrize("name", sorted(ABLATIONS))
def test_switch_changes_output_and_silences_its_parameters(name):
    changes, silent = ABLATIONS[name]
    torch.manual_seed(0)
    model = build_model(tiny_config()).eval()
    path, omics = patient(n_patches=20)
    full, full_grads = _run(model, path, omics)
    ablated_model = with_switches(model, **changes)
    ablated, grads = _run(ablated_model, path, omics)
    if name == "mmd_off":  # MMD is a loss term: the logits stay, the term goes
        torch.testing.assert_close(ablated.logits, full.logits)
        assert ablated.mmd.item() == 0.0 and full.mmd.item() > 0.0
    else:
        assert not torch.allclose(full.logits, ablated.logits)
    for prefix in silent:
        in_full = {n for n in full_grads if n.startswith(prefix)}
        assert in_full, f"{prefix} had no gradient even with everything on"
        assert not {n for n in grads if n.startswith(prefix)}, f"{prefix} still gets a gradient"
    if name == "ot_off":
        assert ablated.transport_plan is None
    if name == "ot_sinkhorn":
        torch.testing.assert_close(ablated.transport_plan.sum(1), torch.ones(20))
        assert ((ablated.transport_plan > 0) & (ablated.transport_plan < 1)).any()


def test_with_switches_keeps_weights_and_leaves_the_original_alone():
    torch.manual_seed(0)
    model = build_model(tiny_config()).eval()
    path, omics = patient()
    before = model(path, omics).logits.detach()
    off = with_switches(model, scan_ranked=False, backend="reference")
    assert off.cfg.scan_ranked is False and model.cfg.scan_ranked is True
    for (n1, p1), (n2, p2) in zip(model.state_dict().items(), off.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2)
    torch.testing.assert_close(model(path, omics).logits.detach(), before)
    back_on = with_switches(off, scan_ranked=True, backend="torch")
    torch.testing.assert_close(back_on(path, omics).logits.detach(), before, rtol=1e-5, atol=1e-6)


def test_with_switches_rejects_structural_or_invalid_changes():
    model = build_model(tiny_config())
    with pytest.raises(InputError, match="cannot change d_model"):
        with_switches(model, d_model=32)
    with pytest.raises(InputError, match="ot='maybe'"):
        with_switches(model, ot="maybe")


def test_baseline_backend_switch():
    torch.manual_seed(0)
    model = build_model(tiny_config(model="mambamil")).eval()
    path, _ = patient()
    ref = with_switches(model, backend="reference")
    torch.testing.assert_close(ref(path, None).logits, model(path, None).logits, rtol=1e-5, atol=1e-6)
