"""Experts: the ranked branch keeps token order; the synergistic expert's alignment and order."""

import pytest
import torch

from memamba_core.models import ScanLayer, SynergisticExpert, UnimodalExpert
from tests._model_helpers import single_thread  # noqa: F401  (autouse: one thread per test)


def _layer(branches):
    torch.manual_seed(0)
    layer = ScanLayer(16, d_state=4, d_conv=4, expand=2).double().eval()
    layer.branches = branches
    return layer


def test_ranked_branch_is_permutation_equivariant():
    """Permuting the input tokens permutes the ranked branch's outputs the same way."""
    layer = _layer(("ranked",))
    x = torch.randn(40, 16, dtype=torch.float64)
    perm = torch.randperm(40, generator=torch.Generator().manual_seed(1))
    y, w = layer(x)
    y_perm, w_perm = layer(x[perm])
    torch.testing.assert_close(y_perm, y[perm])
    torch.testing.assert_close(w_perm, w[perm])


def test_ranked_branch_runs_the_scan_in_score_order():
    """Its output equals a Mamba run over the tokens sorted by descending score, put back in place."""
    layer = _layer(("ranked",))
    x = torch.randn(25, 16, dtype=torch.float64)
    scores = layer.scorer.scores(x)
    order = torch.argsort(scores, descending=True)
    sorted_out = layer.mambas["scan_ranked"]((x * torch.sigmoid(scores)[:, None])[order][None])[0]
    expected = torch.empty_like(sorted_out)
    expected[order] = sorted_out
    y, _ = layer(x)
    torch.testing.assert_close(y, layer.norm(x + expected))


def test_forward_branch_is_order_dependent_and_reverse_is_flipped_forward():
    layer = _layer(("forward",))
    x = torch.randn(12, 16, dtype=torch.float64)
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(layer(x[perm])[0], layer(x)[0][perm])
    rev = _layer(("reverse",))
    rev.mambas["scan_reverse"].load_state_dict(rev.mambas["scan_forward"].state_dict())
    torch.testing.assert_close(
        rev(x)[0], rev.norm(x + rev.mambas["scan_forward"](x.flip(0)[None])[0].flip(0))
    )


def test_expert_returns_tokens_pooled_vector_and_attention():
    torch.manual_seed(0)
    expert = UnimodalExpert(16, n_layers=2, d_state=4, d_conv=4, expand=2).eval()
    out = expert(torch.randn(9, 16))
    assert out.tokens.shape == (9, 16) and out.pooled.shape == (16,)
    assert set(out.attention) == {"ranked", "pool"}
    torch.testing.assert_close(out.pooled, out.attention["pool"] @ out.tokens)
    expert.set_branches(("forward",))
    assert set(expert(torch.randn(9, 16)).attention) == {"pool"}


def test_aligned_tokens_are_plan_weighted_means_with_bag_mean_fallback():
    P = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 5.0]])
    plan = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # token 2 receives nothing
    aligned = SynergisticExpert.aligned_tokens(P, plan, 3)
    torch.testing.assert_close(aligned, torch.tensor([[2.0, 0.0], [0.0, 5.0], [4 / 3, 5 / 3]]))
    torch.testing.assert_close(SynergisticExpert.aligned_tokens(P, None, 2), P.mean(0).expand(2, 2))


def test_interleaved_and_concatenated_orders():
    torch.manual_seed(0)
    expert = SynergisticExpert(8, d_state=4, d_conv=4, expand=2).eval()
    seen = []
    expert.bimamba.register_forward_hook(lambda mod, args, out: seen.append(args[0]))
    P, G = torch.randn(10, 8), torch.randn(3, 8)
    expert.mmd_weight = 0.0
    out = expert(P, G)
    plan = out.plan
    aligned = SynergisticExpert.aligned_tokens(P, plan, 3)
    torch.testing.assert_close(seen[0][0::2], aligned)
    torch.testing.assert_close(seen[0][1::2], G)
    expert.interleave = False
    expert(P, G)
    torch.testing.assert_close(seen[1], torch.cat([aligned, G]))
    assert out.mmd.item() == 0.0


@pytest.mark.parametrize("branches", [("forward",), ("reverse",), ("ranked",), ("forward", "reverse", "ranked")])
@pytest.mark.parametrize("length", [1, 5, 37])
def test_streamed_layer_equals_autograd_layer(monkeypatch, branches, length):
    """Without autograd a layer streams its branches into one buffer: same tokens and ranked scores
    as the autograd forward, float64 tight, also across many small pieces."""
    from memamba_core.ssm import inference

    monkeypatch.setattr(inference, "PIECE_ROWS", 4)
    layer = _layer(branches)
    x = torch.randn(length, 16, dtype=torch.float64)
    y_grad, w_grad = layer(x)
    with torch.no_grad():
        y_fast, w_fast = layer(x)
    torch.testing.assert_close(y_fast, y_grad.detach(), rtol=1e-9, atol=1e-10)
    if w_grad is None:
        assert w_fast is None
    else:
        torch.testing.assert_close(w_fast, w_grad.detach(), rtol=1e-9, atol=1e-10)
