"""The channels-last causal conv equals F.conv1d with left padding (values and gradients)."""

import pytest
import torch
import torch.nn.functional as F

from memamba_core.ssm.conv import causal_conv1d_torch
from tests._model_helpers import single_thread  # noqa: F401  (autouse: one thread per test)


@pytest.mark.parametrize("length, width, with_bias", [(1, 4, True), (3, 4, False), (17, 4, True), (9, 2, True)])
def test_matches_conv1d_with_left_padding(length, width, with_bias):
    g = torch.Generator().manual_seed(length)
    x = torch.randn(2, length, 6, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(6, 1, width, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, generator=g, dtype=torch.float64, requires_grad=True) if with_bias else None
    ours = causal_conv1d_torch(x, w, b)
    theirs = F.conv1d(x.transpose(1, 2), w, b, padding=width - 1, groups=6)[..., :length].transpose(1, 2)
    torch.testing.assert_close(ours, theirs)
    leaves = [t for t in (x, w, b) if t is not None]
    grad = torch.randn_like(ours)
    for a, c in zip(torch.autograd.grad(ours, leaves, grad), torch.autograd.grad(theirs, leaves, grad)):
        torch.testing.assert_close(a, c)
