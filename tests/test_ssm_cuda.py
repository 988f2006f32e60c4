"""The CUDA path: mamba-ssm / causal-conv1d kernels against the fused CPU kernel, values and gradients.

Reference: the fused C kernel on the CPU (computes in float32; low-precision inputs are the
same rounded values) — itself checked against the sequential reference in test_ssm_cpu.py.
Tolerances depend on the dtype: values elementwise (those of mamba-ssm's own tests), gradients
elementwise in float32 and as a relative error of the whole gradient in bf16 / fp16, where
single elements of long sums are noisy. Every test skips cleanly without CUDA or the kernels.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from memamba_core.models import ModelConfig, build_model
from memamba_core.models.experts import set_activation_checkpointing
from memamba_core.ssm import HAS_CAUSAL_CONV1D, HAS_MAMBA_SSM, Mamba, selective_scan, selective_scan_cpu
from memamba_core.ssm.conv import causal_conv1d_torch
from memamba_core.ssm.cpu_kernel import unavailable_reason
from memamba_core.ssm.scan_cuda import causal_conv1d_cuda
from memamba_core.survival.discrete import nll_loss
from tests._model_helpers import single_thread  # noqa: F401  (autouse: one thread per test)
from tests.test_ssm import _inputs

CUDA = torch.cuda.is_available()
needs_scan = pytest.mark.skipif(not (CUDA and HAS_MAMBA_SSM), reason="needs CUDA and mamba_ssm")
needs_conv = pytest.mark.skipif(not (CUDA and HAS_CAUSAL_CONV1D), reason="needs CUDA and causal_conv1d")
needs_cpu_kernel = pytest.mark.skipif(unavailable_reason() is not None, reason=f"fused CPU kernel: {unavailable_reason()}")

DTYPES = [torch.float32, torch.bfloat16, torch.float16]
VALUE_TOL = {torch.float32: dict(rtol=6e-4, atol=2e-3), torch.float16: dict(rtol=3e-3, atol=5e-3),
             torch.bfloat16: dict(rtol=3e-2, atol=5e-2)}
GRAD_TOL = dict(rtol=1e-3, atol=2e-3)  # float32, elementwise
GRAD_REL = {torch.float16: 1e-2, torch.bfloat16: 5e-2}  # ‖g - g_ref‖ / ‖g_ref‖
AUTOCAST_REL = {torch.float16: 2e-2, torch.bfloat16: 1e-1}  # a whole block's matmuls in low precision vs float32
SCAN_CASES = [
    # (batch, inner, state, length, with_d, with_z, with_bias, softplus)
    (1, 5, 2, 7, True, False, True, True),
    (2, 6, 4, 33, False, True, False, True),
    (1, 16, 16, 129, True, True, True, True),
    (2, 8, 16, 4500, True, True, True, True),  # crosses the CUDA kernel's 2048-step chunks
]


def _leaves(args, dtype, device):
    """Inputs as the Mamba block passes them: streams (u, Δ, B, C, z) in ``dtype``; A, D, Δ bias in float32."""
    streams = (0, 1, 3, 4, 6)
    return [None if a is None else a.to(device, dtype if i in streams else torch.float32).detach().requires_grad_()
            for i, a in enumerate(args)]


def _run(fn, leaves, softplus, seed=1):
    u, delta, A, B, C, D, z, bias = leaves
    y = fn(u, delta, A, B, C, D=D, z=z, delta_bias=bias, delta_softplus=softplus)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed)).to(y.device, y.dtype)
    present = [x for x in leaves if x is not None]
    return y.detach(), torch.autograd.grad(y, present, g)


def _close_grads(got, ref, dtype, what=""):
    for k, (a, b) in enumerate(zip(got, ref)):
        a, b = a.float().cpu(), b.float().cpu()
        if dtype == torch.float32:
            torch.testing.assert_close(a, b, **GRAD_TOL, msg=f"{what} grad {k}")
        else:
            rel = float((a - b).norm() / b.norm().clamp_min(1e-12))
            assert rel <= GRAD_REL[dtype], f"{what} grad {k}: relative error {rel:.3g} > {GRAD_REL[dtype]}"


@needs_scan
@needs_cpu_kernel
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", SCAN_CASES)
def test_mamba_ssm_scan_matches_the_cpu_kernel(case, dtype):
    batch, inner, state, length, with_d, with_z, with_bias, softplus = case
    args = _inputs(batch, inner, state, length, torch.float32, with_d=with_d, with_z=with_z, with_bias=with_bias,
                   softplus=softplus, delta_scale=0.5)
    y_ref, g_ref = _run(selective_scan_cpu, _leaves(args, dtype, "cpu"), softplus)
    y_gpu, g_gpu = _run(lambda *a, **k: selective_scan(*a, **k, backend="cuda"), _leaves(args, dtype, "cuda"), softplus)
    assert y_gpu.dtype == dtype and y_gpu.is_cuda
    torch.testing.assert_close(y_gpu.float().cpu(), y_ref.float(), **VALUE_TOL[dtype])
    _close_grads(g_gpu, g_ref, dtype, "scan")


@needs_conv
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("width", [2, 4])
@pytest.mark.parametrize("length", [1, 5, 300])
def test_causal_conv1d_matches_the_torch_conv(dtype, width, length):
    g = torch.Generator().manual_seed(length)
    x = torch.randn(2, length, 64, generator=g)  # (B, L, E): the block's layout
    weight = torch.randn(64, 1, width, generator=g)
    bias = torch.randn(64, generator=g)

    def cpu():
        xi, w, b = x.to(dtype).float().requires_grad_(), weight.clone().requires_grad_(), bias.clone().requires_grad_()
        y = F.silu(causal_conv1d_torch(xi, w, b))
        return y, (xi, w, b)

    def gpu():
        xi = x.to("cuda", dtype).requires_grad_()
        w, b = weight.cuda().requires_grad_(), bias.cuda().requires_grad_()
        y = causal_conv1d_cuda(xi.transpose(1, 2).contiguous(), w[:, 0, :], b, "silu").transpose(1, 2)
        return y, (xi, w, b)

    seed = torch.Generator().manual_seed(9)
    grads = {}
    for name, fn in (("cpu", cpu), ("gpu", gpu)):
        y, leaves = fn()
        up = torch.randn(y.shape, generator=seed.manual_seed(9)).to(y.device, y.dtype)
        grads[name] = (y.detach(), torch.autograd.grad(y, leaves, up))
    (y_c, g_c), (y_g, g_g) = grads["cpu"], grads["gpu"]
    torch.testing.assert_close(y_g.float().cpu(), y_c.to(dtype).float(), **VALUE_TOL[dtype])
    _close_grads(g_g, g_c, dtype, "conv")


def _block_grads(block, x, autocast=None):
    """(y, [dL/dx, dL/dparam…]) for L = Σ y² (a sum: O(1) gradients, which fp16 holds without loss scaling);
    the forward under ``autocast`` (a dtype) when given."""
    block.zero_grad()
    xi = x.detach().clone().requires_grad_()
    if autocast is None:
        y = block(xi)
    else:
        with torch.autocast("cuda", dtype=autocast):
            y = block(xi)
    y.float().pow(2).sum().backward()
    return y.detach(), [xi.grad] + [p.grad.clone() for p in block.parameters()]


@needs_scan
@needs_cpu_kernel
@pytest.mark.parametrize("length", [64, 3000])
def test_mamba_block_on_the_cuda_kernels_matches_the_cpu_kernel(length):
    """Same weights: the whole block (conv, scan, gates, projections) forward and backward, float32."""
    torch.manual_seed(3)
    block = Mamba(64)
    x = torch.randn(2, length, 64)
    block.backend = "cpu"
    y_cpu, g_cpu = _block_grads(block, x)
    block.cuda().backend = "cuda"
    y_gpu, g_gpu = _block_grads(block, x.cuda())
    torch.testing.assert_close(y_gpu.cpu(), y_cpu, **VALUE_TOL[torch.float32])
    _close_grads(g_gpu, g_cpu, torch.float32, "block")


@needs_scan
@needs_cpu_kernel
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_mamba_block_under_autocast_is_close_to_float32(dtype):
    torch.manual_seed(4)
    block = Mamba(64)
    x = torch.randn(1, 2000, 64)
    block.backend = "cpu"
    y_cpu, g_cpu = _block_grads(block, x)
    block.cuda().backend = "cuda"
    y_gpu, g_gpu = _block_grads(block, x.cuda(), autocast=dtype)
    assert y_gpu.dtype == dtype
    rel = float((y_gpu.float().cpu() - y_cpu).norm() / y_cpu.norm())
    assert rel <= AUTOCAST_REL[dtype] / 2, rel
    for k, (a, b) in enumerate(zip(g_gpu, g_cpu)):
        rel = float((a.float().cpu() - b).norm() / b.norm().clamp_min(1e-12))
        assert rel <= AUTOCAST_REL[dtype], f"grad {k}: relative error {rel:.3g}"


def _memamba(n_layers=2):
    torch.manual_seed(0)
    cfg = ModelConfig(path_input_dim=256, omic_sizes=(20, 30, 10, 40, 25, 15), d_model=64, d_state=16, n_layers=n_layers,
                      dropout=0.0)
    return build_model(cfg)


def _patient(n, device):
    g = torch.Generator().manual_seed(1)
    path = torch.randn(n, 256, generator=g)
    omics = [torch.randn(s, generator=g) for s in (20, 30, 10, 40, 25, 15)]
    return path.to(device), [o.to(device) for o in omics]


@needs_scan
@needs_cpu_kernel
def test_memamba_on_cuda_matches_cpu_inference_and_gradients():
    model = _memamba().eval()
    path, omics = _patient(5000, "cpu")
    with torch.no_grad():
        cpu = model(path, omics)
    model.cuda()
    with torch.no_grad():
        gpu = model(*_patient(5000, "cuda"))
    torch.testing.assert_close(gpu.risk.cpu(), cpu.risk, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(gpu.survival.cpu(), cpu.survival, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(gpu.attention["pathology/pool"].cpu(), cpu.attention["pathology/pool"], rtol=1e-2, atol=1e-5)
    grads = {}
    for device in ("cpu", "cuda"):
        model.to(device).train().zero_grad()
        out = model(*_patient(5000, device))
        nll_loss(out.logits.reshape(1, -1), torch.tensor([1], device=device), torch.tensor([0], device=device)).backward()
        grads[device] = [p.grad.cpu() if p.grad is not None else None for p in model.parameters()]
    for a, b in zip(grads["cuda"], grads["cpu"]):
        assert (a is None) == (b is None)
        if a is not None:
            rel = float((a - b).norm() / b.norm().clamp_min(1e-12))
            assert rel <= 1e-2, rel


@needs_scan
def test_activation_checkpointing_lowers_peak_gpu_memory_with_equal_gradients():
    model = _memamba().cuda().train()
    path, omics = _patient(20000, "cuda")
    peaks, grads = {}, {}
    for on in (False, True):
        set_activation_checkpointing(model, on)
        model.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        out = model(path, omics)
        nll_loss(out.logits.reshape(1, -1), torch.tensor([1], device="cuda"), torch.tensor([0], device="cuda")).backward()
        torch.cuda.synchronize()
        peaks[on] = torch.cuda.max_memory_allocated() - base
        grads[on] = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    assert peaks[True] < 0.6 * peaks[False], peaks
    for a, b in zip(grads[True], grads[False]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
