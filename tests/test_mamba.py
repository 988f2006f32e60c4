"""The Mamba block: mamba_ssm-compatible weights, same output on every backend, causal."""

import math

import pytest
import torch

from memamba_core.ssm import HAS_CAUSAL_CONV1D, HAS_MAMBA_SSM, Mamba
from tests._model_helpers import block_by_backend, single_thread  # noqa: F401  (autouse: one thread per test)

# mamba_ssm.modules.mamba_simple.Mamba(d_model=32) state_dict, written out: the transfer contract
EXPECTED_SHAPES = {
    "in_proj.weight": (128, 32),
    "conv1d.weight": (64, 1, 4),
    "conv1d.bias": (64,),
    "x_proj.weight": (2 + 2 * 16, 64),
    "dt_proj.weight": (64, 2),
    "dt_proj.bias": (64,),
    "A_log": (64, 16),
    "D": (64,),
    "out_proj.weight": (32, 64),
}


def test_state_dict_matches_mamba_ssm_layout():
    block = Mamba(32)
    assert {k: tuple(v.shape) for k, v in block.state_dict().items()} == EXPECTED_SHAPES


def test_standard_initialisation():
    torch.manual_seed(0)
    block = Mamba(32, dt_min=0.001, dt_max=0.1)
    torch.testing.assert_close(-torch.exp(block.A_log)[0], -torch.arange(1, 17, dtype=torch.float32))
    dt = torch.nn.functional.softplus(block.dt_proj.bias)
    assert dt.min() >= 0.001 * 0.999 and dt.max() <= 0.1 * 1.001
    assert block.dt_proj.weight.abs().max() <= math.ceil(32 / 16) ** -0.5
    torch.testing.assert_close(block.D, torch.ones(64))


@pytest.mark.parametrize("length", [1, 6, 41])
def test_backends_give_same_output_and_gradients(length):
    torch.manual_seed(1)
    block = Mamba(16, d_state=4).double()
    x = torch.randn(2, length, 16, dtype=torch.float64)
    results = block_by_backend(block, x, ("reference", "torch"))
    (y1, gx1, gp1), (y2, gx2, gp2) = results["reference"], results["torch"]
    torch.testing.assert_close(y1, y2)
    torch.testing.assert_close(gx1, gx2)
    for a, b in zip(gp1, gp2):
        torch.testing.assert_close(a, b)


def test_block_is_causal():
    torch.manual_seed(2)
    block = Mamba(16, d_state=4)
    x = torch.randn(1, 20, 16)
    x2 = x.clone()
    x2[:, 12:] = torch.randn(1, 8, 16)
    y, y2 = block(x), block(x2)
    torch.testing.assert_close(y[:, :12], y2[:, :12])
    assert not torch.allclose(y[:, 12:], y2[:, 12:])


@pytest.mark.skipif(not (HAS_MAMBA_SSM and torch.cuda.is_available()), reason="needs CUDA and mamba_ssm")
def test_cuda_block_matches_torch_block_and_mamba_ssm():
    from mamba_ssm.modules.mamba_simple import Mamba as MambaSSM

    torch.manual_seed(3)
    block = Mamba(64).cuda()
    theirs = MambaSSM(64).cuda()
    theirs.load_state_dict(block.state_dict())
    x = torch.randn(2, 300, 64, device="cuda")
    block.backend = "torch"
    y_torch = block(x)
    block.backend = "cuda"
    y_cuda = block(x)
    torch.testing.assert_close(y_cuda, y_torch, rtol=2e-3, atol=2e-3)
    torch.testing.assert_close(theirs(x), y_torch, rtol=2e-3, atol=2e-3)
    if HAS_CAUSAL_CONV1D:
        u = torch.randn(2, 300, 128, device="cuda")  # (B, L, E), as the block passes it
        torch.testing.assert_close(block._conv(u, True), block._conv(u, False), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("length", [1, 2, 7, 41])
@pytest.mark.parametrize("rows", [1, 3, 16, None])
@pytest.mark.parametrize("order", ["forward", "reverse", "permuted"])
def test_streamed_block_equals_block_forward(dtype, length, rows, order):
    """mamba_stream_ (pieces of `rows` tokens, conv inputs and scan state carried) adds exactly the
    block's output, in the token order asked for, into the accumulator."""
    from memamba_core.ssm.inference import mamba_stream_

    torch.manual_seed(0)
    block = Mamba(8, d_state=4).to(dtype).eval()
    with torch.no_grad():
        block.conv1d.bias.normal_()  # make every weight matter
        block.D.normal_()
    x = torch.randn(length, 8, dtype=dtype)
    base = torch.randn(length, 8, dtype=dtype)
    if order == "forward":
        idx = torch.arange(length)
        arg = None
    elif order == "reverse":
        idx = torch.arange(length - 1, -1, -1)
        arg = "reverse"
    else:
        idx = arg = torch.randperm(length, generator=torch.Generator().manual_seed(1))
    expected = base.clone()
    expected[idx] += block(x[idx][None])[0].detach()
    out = mamba_stream_(block, x, base.clone(), arg, rows=rows)
    tol = dict(rtol=1e-9, atol=1e-10) if dtype == torch.float64 else dict(rtol=2e-4, atol=2e-5)
    torch.testing.assert_close(out, expected, **tol)
