"""The fused C selective scan on CPU: values and gradients against the reference, the carried
state, threads, the Mamba block on it, and the fallbacks when the kernel cannot be had."""

import ctypes
import os
import shutil
import warnings

import pytest
import torch

from memamba_core.errors import InputError
from memamba_core.ssm import (
    Mamba,
    active_backend,
    available_backends,
    resolve_backend,
    selective_scan,
    selective_scan_ref,
)
from memamba_core.ssm import cpu_kernel, scan_cpu
from memamba_core.ssm.inference import mamba_stream_
from memamba_core.ssm.scan_cpu import scan_time_major, selective_scan_cpu
from tests._model_helpers import block_by_backend, single_thread  # noqa: F401  (autouse: one thread per test)

HAS_COMPILER = os.name != "nt" and any(shutil.which(c) for c in ("cc", "gcc", "clang"))
needs_kernel = pytest.mark.skipif(cpu_kernel.unavailable_reason() is not None, reason="fused CPU kernel unavailable")
TOL32 = dict(rtol=2e-4, atol=2e-4)  # float32 kernel against the float64 reference


def _inputs(batch, inner, state, length, seed=0, with_d=True, with_z=True, with_bias=True, softplus=True, scale=1.0):
    """float64 scan inputs (u, Δ, A, B, C, D, z, bias); without softplus Δ is positive, as callers pass it."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    u = r(batch, inner, length)
    delta = r(batch, inner, length) * scale
    if not softplus:
        delta = delta.abs()
    A = -torch.rand(inner, state, generator=g, dtype=torch.float64) * 4 - 0.1
    B, C = r(batch, state, length), r(batch, state, length)
    D = r(inner) if with_d else None
    z = r(batch, inner, length) if with_z else None
    bias = r(inner).abs() if with_bias else None  # Δ + bias stays positive without softplus
    return [u, delta, A, B, C, D, z, bias]


def _channels_last(t):
    """The same values in (B, L, C) memory: the layout the Mamba block passes."""
    return t.transpose(1, 2).contiguous().transpose(1, 2) if t is not None and t.ndim == 3 else t


def _values_and_grads(fn, args, softplus, dtype, seed=1):
    leaves = [None if a is None else a.to(dtype).requires_grad_() for a in args]
    u, delta, A, B, C, D, z, bias = leaves
    y = fn(u, delta, A, B, C, D=D, z=z, delta_bias=bias, delta_softplus=softplus)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)
    grads = torch.autograd.grad(y, [x for x in leaves if x is not None], g)
    return y.detach(), grads


CASES = [
    # (batch, inner, state, length, with_d, with_z, with_bias, softplus)
    (1, 4, 3, 1, True, True, True, True),  # L = 1, one partial vector of channels
    (2, 3, 4, 1, False, False, False, False),
    (1, 5, 1, 7, True, False, True, True),  # S = 1, odd L
    (2, 13, 4, 65, False, True, False, True),  # E not a multiple of 8; L = one chunk + 1
    (1, 16, 16, 130, True, True, False, False),  # S = 16 (the specialised loop), two chunks + 2
    (3, 8, 16, 64, False, False, True, True),  # B > 1, L exactly one chunk
    (1, 24, 5, 201, True, True, True, True),  # odd S, several chunks, ragged last one
]


@needs_kernel
@pytest.mark.parametrize("layout", ["bel", "channels_last"])
@pytest.mark.parametrize("case", CASES)
def test_kernel_matches_reference_values_and_gradients(case, layout):
    """Values and the gradients of every input equal the float64 reference to float32 accuracy, for
    (B, E, L)-contiguous inputs (transposed in the kernel) and (B, L, E) memory (read in place)."""
    batch, inner, state, length, with_d, with_z, with_bias, softplus = case
    args = _inputs(batch, inner, state, length, with_d=with_d, with_z=with_z, with_bias=with_bias, softplus=softplus)
    if layout == "channels_last":
        args = [_channels_last(a) for a in args]
    y_ref, g_ref = _values_and_grads(selective_scan_ref, args, softplus, torch.float64)
    y, grads = _values_and_grads(selective_scan_cpu, args, softplus, torch.float32)
    assert y.dtype == torch.float32 and y.shape == y_ref.shape
    torch.testing.assert_close(y, y_ref.float(), **TOL32)
    assert len(grads) == len(g_ref)
    for a, b in zip(grads, g_ref):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b.float(), **TOL32)
    with torch.no_grad():  # the inference path (no checkpoints kept) gives the same values
        u, delta, A, B, C, D, z, bias = (None if a is None else a.float() for a in args)
        y_ng = selective_scan_cpu(u, delta, A, B, C, D=D, z=z, delta_bias=bias, delta_softplus=softplus)
    torch.testing.assert_close(y_ng, y, rtol=0, atol=0)


@needs_kernel
def test_dispatch_by_name_and_auto():
    args = [None if a is None else a.float() for a in _inputs(2, 10, 3, 21)]
    expected = selective_scan_ref(*args, True)
    for backend in ("cpu", "auto"):
        torch.testing.assert_close(selective_scan(*args, True, backend=backend), expected, **TOL32)
    assert resolve_backend("auto", "cpu", torch.bfloat16) == "cpu"
    with pytest.raises(InputError, match="tensors are on meta"):
        resolve_backend("cpu", "meta")


@needs_kernel
def test_kernel_stable_when_decay_is_huge():
    """Δ·A far beyond exp's float32 range: decays underflow to exactly 0, nothing overflows."""
    args = _inputs(1, 9, 4, 300, seed=4, scale=50.0)
    y_ref, g_ref = _values_and_grads(selective_scan_ref, args, True, torch.float64)
    y, grads = _values_and_grads(selective_scan_cpu, args, True, torch.float32)
    assert torch.isfinite(y).all() and all(torch.isfinite(g).all() for g in grads)
    torch.testing.assert_close(y, y_ref.float(), **TOL32)
    for a, b in zip(grads, g_ref):
        torch.testing.assert_close(a, b.float(), **TOL32)


@needs_kernel
def test_kernel_propagates_nan_and_inf_like_the_reference():
    u, delta, A, B, C, D, z, bias = (None if a is None else a.float() for a in _inputs(1, 8, 4, 20, seed=5))
    delta[0, 3, 5] = float("nan")
    u[0, 6, 7] = float("inf")
    with torch.no_grad():
        y = selective_scan_cpu(u, delta, A, B, C, D=D, z=z, delta_bias=bias, delta_softplus=True)
        y_ref = selective_scan_ref(u, delta, A, B, C, D=D, z=z, delta_bias=bias, delta_softplus=True)
    torch.testing.assert_close(y.isnan(), y_ref.isnan())
    torch.testing.assert_close(y.isinf(), y_ref.isinf())
    finite = y_ref.isfinite()
    torch.testing.assert_close(y[finite], y_ref[finite], **TOL32)


@needs_kernel
def test_half_precision_input_is_computed_in_float32_and_returned_in_its_dtype():
    u, delta, A, B, C, D, z, bias = (None if a is None else a.float() for a in _inputs(1, 12, 4, 33))
    y = selective_scan_cpu(u.bfloat16(), delta, A, B, C, D=D)
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y, selective_scan_ref(u.bfloat16(), delta, A, B, C, D=D))  # bfloat16 tolerances


@needs_kernel
def test_float64_is_refused_by_name_and_routed_to_torch_by_auto():
    u, delta, A, B, C, D, z, bias = _inputs(1, 4, 2, 5)
    with pytest.raises(RuntimeError, match="float32"):
        selective_scan_cpu(u, delta, A, B, C)
    assert resolve_backend("auto", "cpu", torch.float64) == "torch"
    with pytest.raises(InputError, match="cannot run here"):
        resolve_backend("cpu", "cpu", torch.float64)


@needs_kernel
@pytest.mark.parametrize("batch", [1, 2])
def test_scan_in_pieces_carries_the_state(batch):
    """scan_time_major over [0, k) then [k, L) with the state carried equals one scan over [0, L)
    and the reference; inputs as the streaming inference passes them (row slices of wider buffers)."""
    u, delta, A, B, C, D, z, bias = (None if a is None else a.float() for a in _inputs(batch, 11, 4, 150, seed=8))
    length, n_inner, n_state = u.shape[-1], u.shape[1], A.shape[1]
    wide = torch.randn(length, batch, 3 * n_inner + 2 * n_state)  # (L, B, ·) buffer the streams are cut from
    cols = {"u": 0, "delta": n_inner, "z": 2 * n_inner, "B": 3 * n_inner, "C": 3 * n_inner + n_state}
    for name, t in (("u", u), ("delta", delta), ("z", z)):
        wide[:, :, cols[name] : cols[name] + n_inner] = t.permute(2, 0, 1)
    for name, t in (("B", B), ("C", C)):
        wide[:, :, cols[name] : cols[name] + n_state] = t.permute(2, 0, 1)

    def part(name, sl, width):
        return wide[sl, :, cols[name] : cols[name] + width]

    kw = dict(delta_bias=bias, delta_softplus=True, D=D)

    def scan(sl, h=None):
        return scan_time_major(
            part("u", sl, n_inner), part("delta", sl, n_inner), A, part("B", sl, n_state), part("C", sl, n_state),
            z=part("z", sl, n_inner), h=h, **kw,
        )

    whole = scan(slice(0, length))
    h = torch.zeros(batch * n_state * n_inner)
    pieces = [scan(sl, h) for sl in (slice(0, 1), slice(1, 64), slice(64, 65), slice(65, length))]
    torch.testing.assert_close(torch.cat(pieces), whole, rtol=1e-6, atol=1e-6)
    expected = selective_scan_ref(u, delta, A, B, C, D=D, z=z, delta_bias=bias, delta_softplus=True)
    torch.testing.assert_close(whole.permute(1, 2, 0), expected, **TOL32)
    # the carried state is the last state, lanes (B, S, E): y of one more step from it, by hand
    x_last = h.view(batch, n_state, n_inner)
    assert torch.isfinite(x_last).all() and x_last.abs().sum() > 0


@needs_kernel
def test_threads_give_the_same_result():
    """Splitting the channels over threads changes nothing but the summation order of dB, dC."""
    args = [None if a is None else a.float() for a in _inputs(2, 43, 16, 97, seed=9)]
    torch.set_num_threads(1)
    y1, g1 = _values_and_grads(selective_scan_cpu, args, True, torch.float32)
    assert len(scan_cpu.channel_ranges(43)) == 1
    torch.set_num_threads(3)
    assert len(scan_cpu.channel_ranges(43)) >= 3
    y3, g3 = _values_and_grads(selective_scan_cpu, args, True, torch.float32)
    torch.set_num_threads(1)
    assert torch.equal(y1, y3)
    names = ["u", "delta", "A", "B", "C", "D", "z", "bias"]
    for name, a, b in zip(names, g1, g3):
        if name in ("B", "C"):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
        else:
            assert torch.equal(a, b), name


@needs_kernel
def test_mamba_block_on_the_kernel_matches_the_torch_path():
    """Same block, backend 'cpu' vs 'torch': outputs and every parameter gradient (float32)."""
    torch.manual_seed(2)
    block = Mamba(12, d_state=4)  # E = 24
    with torch.no_grad():
        block.D.normal_()
    x = torch.randn(2, 70, 12)
    results = block_by_backend(block, x, ("torch", "cpu"))
    (y1, gx1, gp1), (y2, gx2, gp2) = results["torch"], results["cpu"]
    torch.testing.assert_close(y2, y1, **TOL32)
    torch.testing.assert_close(gx2, gx1, rtol=1e-3, atol=1e-3)
    for a, b in zip(gp2, gp1):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)


@needs_kernel
@pytest.mark.parametrize("order", ["forward", "reverse", "permuted"])
def test_streamed_inference_on_the_kernel(order):
    """mamba_stream_ with the kernel (pieces of 16 rows, E = 20) adds the block's torch-path output."""
    torch.manual_seed(3)
    block = Mamba(10, d_state=16).eval()
    x, base = torch.randn(53, 10), torch.randn(53, 10)
    idx = {"forward": torch.arange(53), "reverse": torch.arange(52, -1, -1), "permuted": torch.randperm(53)}[order]
    arg = {"forward": None, "reverse": "reverse", "permuted": idx}[order]
    block.backend = "torch"
    expected = base.clone()
    with torch.no_grad():
        expected[idx] += block(x[idx][None])[0]
    block.backend = "cpu"
    out = mamba_stream_(block, x, base.clone(), arg, rows=16)
    torch.testing.assert_close(out, expected, rtol=2e-4, atol=2e-5)


@needs_kernel
@pytest.mark.parametrize("width", [1, 2, 4])
def test_conv_silu_in_pieces_equals_the_whole_sequence_conv(width):
    """conv_silu_stream_ over pieces of 1, 2, 5, … rows (fewer than K_conv - 1 included), the carry
    passed along, equals silu(causal_conv1d_torch) over the whole sequence; input rows may be strided."""
    from memamba_core.ssm.conv import causal_conv1d_torch
    from memamba_core.ssm.conv_cpu import conv_silu_stream_

    g = torch.Generator().manual_seed(width)
    n_inner, length = 13, 40
    wide = torch.randn(length, 2 * n_inner, generator=g)  # x is the first half of each row, as in (P, 2E) xz
    x = wide[:, :n_inner]
    weight, bias = torch.randn(n_inner, 1, width, generator=g), torch.randn(n_inner, generator=g)
    expected = torch.nn.functional.silu(causal_conv1d_torch(x[None], weight, bias))[0]
    carry = torch.zeros(width - 1, n_inner)
    out = torch.full((length, n_inner), float("nan"))
    p0 = 0
    for rows in (1, 2, 5, 17, 15):
        conv_silu_stream_(x[p0 : p0 + rows], weight[:, 0, :], bias, carry, out[p0 : p0 + rows])
        p0 += rows
    assert p0 == length
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(carry, x[length - (width - 1) :])


# --- build, cache, fallback --------------------------------------------------------------------


@pytest.mark.skipif(not HAS_COMPILER, reason="no C compiler on this machine")
def test_kernel_builds_where_a_compiler_exists():
    """With a C compiler the kernel must build and load: a silent fallback would hide a broken build."""
    assert cpu_kernel.unavailable_reason() is None
    assert "cpu" in available_backends()
    assert resolve_backend("auto", "cpu") == "cpu"
    assert active_backend("cpu").startswith("cpu (fused C kernel")


def _fresh_outcomes(monkeypatch):
    monkeypatch.setattr(cpu_kernel, "_outcomes", {})


def test_missing_compiler_falls_back_to_torch_with_a_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("MEMAMBA_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    _fresh_outcomes(monkeypatch)
    with pytest.warns(RuntimeWarning, match="unavailable.*pure-PyTorch"):
        assert cpu_kernel.kernel() is None
    reason = cpu_kernel.unavailable_reason()
    assert "no-such-cc" in reason
    assert resolve_backend("auto", "cpu") == "torch"
    assert "cpu" not in available_backends()
    shown = active_backend("cpu")
    assert shown.startswith("torch") and "no-such-cc" in shown
    with pytest.raises(InputError, match="no-such-cc"):
        resolve_backend("cpu", "cpu")
    args = [None if a is None else a.float() for a in _inputs(1, 4, 2, 6)]
    with pytest.raises(RuntimeError, match="no-such-cc"):
        selective_scan_cpu(*args[:5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once, not at every call
        block = Mamba(8, d_state=4)
        y = block(torch.randn(1, 9, 8))
        y.sum().backward()
    assert torch.isfinite(y).all() and block.A_log.grad is not None
    assert not list(tmp_path.rglob("*.so"))


def test_kernel_switched_off_by_environment(monkeypatch):
    monkeypatch.setenv("MEMAMBA_CPU_KERNEL", "0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a choice, not a failure: no warning
        assert cpu_kernel.kernel() is None
    assert "MEMAMBA_CPU_KERNEL=0" in cpu_kernel.unavailable_reason()
    assert resolve_backend("auto", "cpu") == "torch"
    assert "MEMAMBA_CPU_KERNEL=0" in active_backend("cpu")


@pytest.mark.skipif(not HAS_COMPILER, reason="no C compiler on this machine")
def test_corrupt_cached_library_is_rebuilt(monkeypatch, tmp_path):
    monkeypatch.setenv("MEMAMBA_CACHE", str(tmp_path))
    _fresh_outcomes(monkeypatch)
    path = cpu_kernel.library_path()
    assert tmp_path in path.parents
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x7fELF this is not a shared library")
    lib = cpu_kernel.kernel()
    assert lib is not None, cpu_kernel.unavailable_reason()
    assert path.read_bytes()[:4] == b"\x7fELF" and path.stat().st_size > 1000
    assert lib.ss_abi_version() == cpu_kernel.ABI_VERSION
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]  # no temporary left behind
    args = [None if a is None else a.float() for a in _inputs(1, 9, 3, 20)]
    y = selective_scan_cpu(*args[:5], D=args[5], z=args[6], delta_bias=args[7], delta_softplus=True)
    torch.testing.assert_close(y, selective_scan_ref(*args[:5], args[5], args[6], args[7], True), **TOL32)


@pytest.mark.skipif(not HAS_COMPILER, reason="no C compiler on this machine")
@pytest.mark.slow
def test_library_failing_its_check_is_not_used(monkeypatch, tmp_path):
    """A library that loads but computes wrongly (here: its check is made to fail) is refused, with the reason."""
    monkeypatch.setenv("MEMAMBA_CACHE", str(tmp_path))
    _fresh_outcomes(monkeypatch)

    def bad_check(lib):
        raise OSError("the check scan gave nonsense")

    monkeypatch.setattr(cpu_kernel, "_check", bad_check)
    with pytest.warns(RuntimeWarning, match="nonsense"):
        assert cpu_kernel.kernel() is None
    assert resolve_backend("auto", "cpu") == "torch"


def test_args_struct_matches_the_c_source():
    """SSArgs mirrors ss_args field for field (same names, same order)."""
    import re

    src = cpu_kernel.SOURCE.read_text()
    body = src[src.index("typedef struct {") : src.index("} ss_args;")]
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    names = re.findall(r"\b(\w+)\s*(?=[,;])", body)
    assert names == [name for name, _ in cpu_kernel.SSArgs._fields_]
    assert ctypes.sizeof(cpu_kernel.SSArgs) == 8 * len(names)
