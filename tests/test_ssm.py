"""Selective scan: the fast path and the CUDA kernel against the sequential reference."""

import pytest
import torch

from memamba_core.errors import InputError
from memamba_core.ssm import (
    HAS_MAMBA_SSM,
    active_backend,
    resolve_backend,
    selective_scan,
    selective_scan_ref,
    selective_scan_torch,
)
from memamba_core.ssm import scan_torch
from memamba_core.ssm.cpu_kernel import unavailable_reason
from memamba_core.ssm.recurrence import linear_recurrence_
from tests._model_helpers import single_thread  # noqa: F401  (autouse: one thread per test)

TOL = {torch.float64: dict(rtol=1e-9, atol=1e-10), torch.float32: dict(rtol=2e-4, atol=2e-4)}


def _inputs(
    batch, inner, state, length, dtype, seed=0, with_d=True, with_z=True, with_bias=True, delta_scale=1.0, softplus=True
):
    """Random scan inputs; without softplus Δ is drawn positive (a step size), as real callers pass it."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype)

    u = r(batch, inner, length)
    delta = r(batch, inner, length) * delta_scale
    if not softplus:
        delta = delta.abs()
    A = -torch.rand(inner, state, generator=g, dtype=dtype) * 4 - 0.1
    B, C = r(batch, state, length), r(batch, state, length)
    D = r(inner) if with_d else None
    z = r(batch, inner, length) if with_z else None
    bias = r(inner) if with_bias else None
    return u, delta, A, B, C, D, z, bias


def _values_and_grads(fn, args, softplus, seed=1):
    leaves = [a.clone().requires_grad_() if a is not None else None for a in args]
    u, delta, A, B, C, D, z, bias = leaves
    y = fn(u, delta, A, B, C, D=D, z=z, delta_bias=bias, delta_softplus=softplus)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=y.dtype).to(y.device)
    present = [x for x in leaves if x is not None]
    grads = torch.autograd.grad(y, present, g)
    return y.detach(), grads


CASES = [
    # (batch, inner, state, length, with_d, with_z, with_bias, softplus)
    (1, 4, 3, 1, True, True, True, True),
    (2, 3, 4, 1, False, False, False, False),
    (1, 5, 2, 7, True, False, True, True),
    (2, 6, 4, 33, False, True, False, True),
    (1, 3, 5, 129, True, True, False, False),
    (3, 2, 1, 64, False, False, True, True),
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("case", CASES)
def test_torch_scan_matches_reference_values_and_gradients(case, dtype):
    batch, inner, state, length, with_d, with_z, with_bias, softplus = case
    args = _inputs(
        batch, inner, state, length, dtype, with_d=with_d, with_z=with_z, with_bias=with_bias, softplus=softplus
    )
    y_ref, g_ref = _values_and_grads(selective_scan_ref, args, softplus)
    y_fast, g_fast = _values_and_grads(selective_scan_torch, args, softplus)
    assert y_fast.dtype == dtype
    torch.testing.assert_close(y_fast, y_ref, **TOL[dtype])
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, **TOL[dtype])


@pytest.mark.parametrize("block_elements", [7, 64, 1000])
def test_torch_scan_blocks_carry_state(monkeypatch, block_elements):
    """Small blocks force many blocks (and a ragged last one): state and adjoint cross them exactly."""
    monkeypatch.setattr(scan_torch, "_BLOCK_ELEMENTS", block_elements)
    args = _inputs(2, 3, 4, 101, torch.float64, seed=3)
    y_ref, g_ref = _values_and_grads(selective_scan_ref, args, True)
    y_fast, g_fast = _values_and_grads(selective_scan_torch, args, True)
    torch.testing.assert_close(y_fast, y_ref, **TOL[torch.float64])
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, **TOL[torch.float64])


def test_torch_scan_stable_when_decay_is_huge():
    """A·ΣΔ far beyond exp's float32 range: no overflow, same result as the reference."""
    args = _inputs(1, 4, 4, 300, torch.float32, seed=4, delta_scale=50.0)
    y_ref, g_ref = _values_and_grads(selective_scan_ref, args, True)
    y_fast, g_fast = _values_and_grads(selective_scan_torch, args, True)
    assert torch.isfinite(y_fast).all() and all(torch.isfinite(g).all() for g in g_fast)
    torch.testing.assert_close(y_fast, y_ref, **TOL[torch.float32])
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, **TOL[torch.float32])


def test_half_precision_input_returns_input_dtype():
    u, delta, A, B, C, D, z, bias = _inputs(1, 4, 2, 9, torch.float32)
    y = selective_scan_torch(u.bfloat16(), delta, A, B, C, D=D)
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), selective_scan_ref(u.bfloat16(), delta, A, B, C, D=D).float())


@pytest.mark.parametrize("length", [1, 2, 5, 16, 17, 100])
def test_linear_recurrence_matches_loop(length):
    g = torch.Generator().manual_seed(length)
    a = torch.rand(length, 6, generator=g, dtype=torch.float64)
    b = torch.randn(length, 6, generator=g, dtype=torch.float64)
    h0 = torch.randn(6, generator=g, dtype=torch.float64)
    h, expected = h0, []
    for t in range(length):
        h = a[t] * h + b[t]
        expected.append(h)
    out = b.clone()
    last = linear_recurrence_(a.clone(), out, h0)
    torch.testing.assert_close(out, torch.stack(expected))
    torch.testing.assert_close(last, expected[-1])


def test_dispatch_uses_the_named_backend():
    args = _inputs(1, 3, 2, 12, torch.float64)
    u, delta, A, B, C, D, z, bias = args
    for backend in ("auto", "torch", "reference"):
        y = selective_scan(u, delta, A, B, C, D, z, bias, True, backend=backend)
        torch.testing.assert_close(y, selective_scan_ref(u, delta, A, B, C, D, z, bias, True))
    # float64 never goes to the fused (float32) CPU kernel; float32 does when it is available
    assert resolve_backend("auto", "cpu", torch.float64) == "torch"
    assert active_backend("cpu", dtype=torch.float64).startswith("torch")
    kernel_ok = unavailable_reason() is None
    assert resolve_backend("auto", "cpu", torch.float32) == ("cpu" if kernel_ok else "torch")
    assert active_backend("cpu").startswith("cpu" if kernel_ok else "torch")


def test_unknown_or_unavailable_backend_is_an_input_error():
    with pytest.raises(InputError, match="Unknown scan backend"):
        resolve_backend("fast", "cpu")
    with pytest.raises(InputError, match="cannot run here"):
        resolve_backend("cuda", "cpu")


needs_cuda = pytest.mark.skipif(
    not (HAS_MAMBA_SSM and torch.cuda.is_available()), reason="needs CUDA and mamba_ssm"
)


@needs_cuda
@pytest.mark.parametrize("case", CASES[2:])
def test_cuda_kernel_matches_reference_and_torch(case):
    batch, inner, state, length, with_d, with_z, with_bias, softplus = case
    args = _inputs(
        batch, inner, state, length, torch.float32, with_d=with_d, with_z=with_z, with_bias=with_bias, softplus=softplus
    )
    cuda_args = [a.cuda() if a is not None else None for a in args]
    y_ref, g_ref = _values_and_grads(selective_scan_ref, args, softplus)
    y_torch, g_torch = _values_and_grads(selective_scan_torch, cuda_args, softplus)
    y_cuda, g_cuda = _values_and_grads(
        lambda *a, **k: selective_scan(*a, **k, backend="cuda"), cuda_args, softplus
    )
    tol = dict(rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(y_cuda.cpu(), y_ref, **tol)
    torch.testing.assert_close(y_torch.cpu(), y_ref, **tol)
    for a, b in zip(g_cuda, g_ref):
        torch.testing.assert_close(a.cpu(), b, **tol)
    for a, b in zip(g_torch, g_ref):
        torch.testing.assert_close(a.cpu(), b, **tol)


# --- the inference (no-grad) path and the recurrence engines ------------------------------------


def _no_grad_scan(fn, args, softplus):
    u, delta, A, B, C, D, z, bias = args
    with torch.no_grad():
        return fn(u, delta, A, B, C, D=D, z=z, delta_bias=bias, delta_softplus=softplus)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("block_elements", [7, 1 << 19])
def test_no_grad_scan_matches_reference(monkeypatch, case, dtype, block_elements):
    """The fused no-grad path (bias, softplus, D and gate applied per block) equals the reference,
    in one block or many (a ragged last one included)."""
    monkeypatch.setattr(scan_torch, "_BLOCK_ELEMENTS", block_elements)
    batch, inner, state, length, with_d, with_z, with_bias, softplus = case
    args = _inputs(
        batch, inner, state, length, dtype, with_d=with_d, with_z=with_z, with_bias=with_bias, softplus=softplus
    )
    y_ref = _no_grad_scan(selective_scan_ref, args, softplus)
    y_fast = _no_grad_scan(selective_scan_torch, args, softplus)
    assert y_fast.dtype == dtype and y_fast.shape == y_ref.shape
    torch.testing.assert_close(y_fast, y_ref, **TOL[dtype])


@pytest.mark.parametrize("layout", ["bel", "channels_last"])
def test_scan_any_input_layout_values_and_gradients(layout):
    """(B, E, L)-contiguous inputs and (B, L, E) memory (what the Mamba block passes) give the same
    values and gradients as the reference, with and without autograd."""
    args = list(_inputs(2, 5, 3, 37, torch.float64, seed=7))
    if layout == "channels_last":
        args = [a.transpose(1, 2).contiguous().transpose(1, 2) if a is not None and a.ndim == 3 else a for a in args]
    y_ref, g_ref = _values_and_grads(selective_scan_ref, args, True)
    y_fast, g_fast = _values_and_grads(selective_scan_torch, args, True)
    torch.testing.assert_close(y_fast, y_ref, **TOL[torch.float64])
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, **TOL[torch.float64])
    torch.testing.assert_close(_no_grad_scan(selective_scan_torch, args, True), y_ref, **TOL[torch.float64])


def test_no_grad_scan_in_pieces_carries_the_state():
    """_scan_blocks run over [0, k) then [k, L) with the state carried equals one run over [0, L)."""
    u, delta, A, B, C, D, z, bias = _inputs(1, 4, 3, 50, torch.float64, seed=8)
    tm = [scan_torch._time_major(t) for t in (u, delta, B, C, z)]
    kw = dict(delta_bias=bias, delta_softplus=True, D=D)
    whole = scan_torch._scan_blocks(tm[0], tm[1], A, tm[2], tm[3], z=tm[4], **kw)
    h = torch.zeros(4 * 3, dtype=torch.float64)
    parts = [
        scan_torch._scan_blocks(*(t[sl] for t in tm[:2]), A, *(t[sl] for t in tm[2:4]), z=tm[4][sl], h=h, **kw)
        for sl in (slice(0, 1), slice(1, 23), slice(23, 50))
    ]
    torch.testing.assert_close(torch.cat(parts), whole)
    expected = selective_scan_ref(u, delta, A, B, C, D=D, z=z, delta_bias=bias, delta_softplus=True)
    torch.testing.assert_close(whole.permute(1, 2, 0), expected)


@pytest.mark.parametrize("length", [1, 2, 3, 5, 16, 17, 100, 101])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
@pytest.mark.parametrize("engine", ["chunked", "sequential"])
def test_recurrence_engines_forward_and_reverse(length, reverse, with_h0, engine):
    """Both engines solve h_t = a_t h_{t∓1} + b_t in either time direction, from h0 or zero."""
    from memamba_core.ssm.recurrence import sequential_recurrence_

    g = torch.Generator().manual_seed(length)
    a = torch.rand(length, 6, generator=g, dtype=torch.float64)
    b = torch.randn(length, 6, generator=g, dtype=torch.float64)
    h0 = torch.randn(6, generator=g, dtype=torch.float64)
    h, expected = (h0 if with_h0 else torch.zeros(6, dtype=torch.float64)), [None] * length
    steps = range(length - 1, -1, -1) if reverse else range(length)
    for t in steps:
        h = a[t] * h + b[t]
        expected[t] = h
    fn = linear_recurrence_ if engine == "chunked" else sequential_recurrence_
    a_in, out = a.clone(), b.clone()
    last = fn(a_in, out, h0 if with_h0 else None, reverse=reverse)
    torch.testing.assert_close(out, torch.stack(expected))
    torch.testing.assert_close(last, expected[steps[-1]])
    if engine == "sequential":
        torch.testing.assert_close(a_in, a)  # decays left untouched
