"""Discrete-time survival: bins, hazards → survival → risk, NLL against MCAT's formula."""

import numpy as np
import pytest
import torch

from memamba_core.errors import InputError
from memamba_core.survival import (
    assign_bins,
    bin_edges,
    hazards_from_logits,
    nll_loss,
    risk_from_survival,
    survival_from_hazards,
)


def _mcat_nll(hazards, S, Y, c, alpha=0.0, eps=1e-7):
    """MCAT's nll_loss (utils/utils.py), verbatim in substance, as an external reference."""
    batch_size = len(Y)
    Y = Y.view(batch_size, 1)
    c = c.view(batch_size, 1).float()
    S_padded = torch.cat([torch.ones_like(c), S], 1)
    uncensored = -(1 - c) * (
        torch.log(torch.gather(S_padded, 1, Y).clamp(min=eps)) + torch.log(torch.gather(hazards, 1, Y).clamp(min=eps))
    )
    censored = -c * torch.log(torch.gather(S_padded, 1, Y + 1).clamp(min=eps))
    neg_l = censored + uncensored
    return ((1 - alpha) * neg_l + alpha * uncensored).mean()


def test_bins_are_quartiles_of_uncensored_times():
    times = np.array([1, 2, 3, 4, 5, 6, 7, 8, 100, 200.0])
    cens = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    cuts = bin_edges(times, cens, 4)
    np.testing.assert_allclose(cuts, np.quantile(times[:8], [0.25, 0.5, 0.75]))
    bins = assign_bins(times, cuts)
    assert bins.min() == 0 and bins.max() == 3
    assert bins[-1] == 3  # censored late times fall in the open last bin
    assert assign_bins(np.array([0.01, 1e6]), cuts).tolist() == [0, 3]


def test_all_censored_training_split_is_a_clear_error():
    with pytest.raises(InputError, match="All 3 training patients are censored"):
        bin_edges(np.array([1.0, 2, 3]), np.array([1, 1, 1]))


def test_risk_is_higher_for_earlier_event():
    early = torch.tensor([3.0, 2.0, 1.0, 0.0])  # high hazard in the first bins
    late = -early
    s_early = survival_from_hazards(hazards_from_logits(early))
    s_late = survival_from_hazards(hazards_from_logits(late))
    assert torch.all(s_early[1:] <= s_early[:-1])  # survival is non-increasing
    assert risk_from_survival(s_early) > risk_from_survival(s_late)


@pytest.mark.parametrize("alpha", [0.0, 0.4])
def test_nll_matches_mcat_reference(alpha):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(32, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (32,), generator=g)
    c = torch.randint(0, 2, (32,), generator=g)
    h = hazards_from_logits(logits)
    ref = _mcat_nll(h, survival_from_hazards(h), y, c, alpha=alpha)
    ours = nll_loss(logits, y, c, alpha=alpha)
    torch.testing.assert_close(ours, ref, rtol=1e-9, atol=1e-9)


def test_nll_is_finite_for_extreme_logits_and_differentiable():
    logits = torch.tensor([[60.0, -60.0, 60.0, -60.0]], requires_grad=True)
    loss = nll_loss(logits, torch.tensor([3]), torch.tensor([0]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
