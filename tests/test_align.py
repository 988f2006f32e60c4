"""Alignment: cosine cost, OT plans (hard and Sinkhorn), MMD."""

import pytest
import torch

from memamba_core.align import cosine_cost, hard_transport, mmd, sinkhorn_transport
from memamba_core.errors import InputError
from tests._model_helpers import single_thread  # noqa: F401  (autouse: one thread per test)


def test_cosine_cost_values_and_shape():
    P = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]])
    G = torch.tensor([[3.0, 0.0], [0.0, 1.0]])
    C = cosine_cost(P, G)
    torch.testing.assert_close(C, torch.tensor([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0]]))


def test_hard_plan_is_one_hot_at_the_cheapest_token():
    C = torch.rand(50, 6, generator=torch.Generator().manual_seed(0))
    T = hard_transport(C)
    assert set(T.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(T.sum(1), torch.ones(50))
    assert torch.equal(T.argmax(1), C.argmin(1))


def test_sinkhorn_plan_rows_carry_patch_mass_and_columns_balance():
    g = torch.Generator().manual_seed(1)
    C = cosine_cost(torch.randn(40, 8, generator=g), torch.randn(5, 8, generator=g))
    T = sinkhorn_transport(C, eps=0.05, iters=300)
    assert (T >= 0).all()
    torch.testing.assert_close(T.sum(1), torch.ones(40))
    torch.testing.assert_close(T.sum(0), torch.full((5,), 40 / 5), rtol=0.02, atol=0.05)


def test_sinkhorn_is_stable_for_tiny_eps_and_tends_to_hard():
    C = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.8, 0.1]])
    T = sinkhorn_transport(C, eps=1e-3, iters=200)
    assert torch.isfinite(T).all()
    torch.testing.assert_close(T, hard_transport(C), atol=1e-3, rtol=0)


def test_sinkhorn_rejects_bad_settings():
    with pytest.raises(InputError, match="eps"):
        sinkhorn_transport(torch.rand(3, 2), eps=0.0)
    with pytest.raises(InputError, match="iters"):
        sinkhorn_transport(torch.rand(3, 2), iters=0)


def test_mmd_is_zero_for_identical_samples_and_grows_with_shift():
    x = torch.randn(80, 4, generator=torch.Generator().manual_seed(2))
    assert float(mmd(x, x)) == pytest.approx(0.0, abs=1e-6)
    values = [float(mmd(x, x + shift, bandwidths=(0.5, 1.0, 2.0))) for shift in (0.0, 0.25, 0.5, 1.0, 2.0)]
    assert values[0] == pytest.approx(0.0, abs=1e-6)
    assert all(b > a for a, b in zip(values, values[1:]))


def test_unbiased_mmd_near_zero_for_same_distribution_and_positive_for_shift():
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(200, 3, generator=g), torch.randn(200, 3, generator=g)
    assert abs(float(mmd(x, y, unbiased=True))) < 0.02
    assert float(mmd(x, y + 1.5, unbiased=True)) > 0.2


def test_mmd_input_errors():
    with pytest.raises(InputError, match="width"):
        mmd(torch.randn(3, 2), torch.randn(3, 4))
    with pytest.raises(InputError, match="at least 2"):
        mmd(torch.randn(1, 2), torch.randn(3, 2), unbiased=True)
    with pytest.raises(InputError, match="positive"):
        mmd(torch.randn(3, 2), torch.randn(3, 2), bandwidths=(1.0, -1.0))
