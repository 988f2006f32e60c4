"""The fused C selective scan on CPU (float32): forward, backward, and a state-carrying form.

Same signature and result as :func:`~memamba_core.ssm.scan_ref.selective_scan_ref`;
the kernel is ``csrc/selective_scan_cpu.c``, built and loaded by :mod:`.cpu_kernel`.
Glossary: B batch, E inner width, S state size, L length, T chunk length,
P threads, E8 = E rounded up to 8 (one vector of channels).

Streams are read in place, as a pointer and strides: u, Δ and z with unit
stride along channels (the (B, L, E) memory the Mamba block passes, or a
row-strided slice) or along time (the (B, E, L)-contiguous layout of
``mamba_ssm``, transposed by the kernel a chunk at a time); B, C and the
incoming gradient with unit stride along their last-but-one axis (S or E).
Anything else is copied once into (B, L, ·) memory. The output y and the
input gradients are (B, E, L) views of (B, L, E) memory.

Threads: with P = ``torch.get_num_threads()`` > 1 the channels are split into
up to 4·P runs of whole vectors, each one ctypes call (ctypes drops the GIL
during the call; no OpenMP, which would fight PyTorch's own), taken from one
queue by this thread and P - 1 pool threads as they come free. Results do not
depend on P except dB and dC, whose per-run partial sums over channels are
added at the end.

Autograd: the forward keeps the inputs and the (B, S, E) state entering every
chunk of T steps (O(L/T · B·S·E) memory); the backward kernel recomputes each
chunk's states from its checkpoint and runs the adjoint recurrence through it,
last chunk first, giving the gradients of every input (Δ's through its bias and
softplus, the gate's and D's included). bfloat16 / float16 inputs are computed
in float32 and the result cast back; float64 is not supported here (the
pure-PyTorch scan handles it).
"""

from __future__ import annotations

import ctypes
import math
import threading
from concurrent.futures import ThreadPoolExecutor

import torch
from torch.autograd.function import once_differentiable

from .cpu_kernel import SSArgs, require_kernel

__all__ = ["selective_scan_cpu", "scan_time_major", "channel_ranges", "per_thread", "launch", "CHUNK", "SUPPORTED_DTYPES"]

CHUNK = 64  # T: steps between state checkpoints, and the rows a chunk-major pass keeps in cache
SUPPORTED_DTYPES = (torch.float32, torch.bfloat16, torch.float16)
_LANES = 8
_LOG2_E = math.log2(math.e)
_NULL = ctypes.POINTER(ctypes.c_float)()
_HUGE_MIN_BYTES = 4 << 20  # outputs from this size on are faulted in as 2 MiB pages
RUNS_PER_THREAD = 4  # channel runs per thread when several threads share a scan

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _ptr(t: torch.Tensor | None):
    return _NULL if t is None else ctypes.cast(t.data_ptr(), ctypes.POINTER(ctypes.c_float))


def _fresh(*shape: int, like: torch.Tensor) -> torch.Tensor:
    """torch.empty(shape) in float32; a large one is first advised to use huge pages (see ss_advise_huge)."""
    t = like.new_empty(*shape, dtype=torch.float32)
    if t.nbytes >= _HUGE_MIN_BYTES:
        require_kernel().ss_advise_huge(t.data_ptr(), t.nbytes)
    return t


def _unit_axis(t: torch.Tensor, axes: tuple[int, ...]) -> torch.Tensor:
    """(B, C, L) float32 with unit stride on one of ``axes`` (1: channels, 2: time): ``t`` itself
    when it has one (or that axis has one element), else a copy in (B, L, C) memory."""
    if any(t.stride(ax) == 1 or t.shape[ax] == 1 for ax in axes):
        return t
    return t.transpose(1, 2).contiguous().transpose(1, 2)


def _set_stream(args: SSArgs, name: str, t: torch.Tensor | None, time_major: bool = False) -> None:
    """Point field ``name`` at t: (B, C, L), or (L, B, C) when ``time_major``.

    The kernel reads channels with unit stride except for the inputs u, Δ, z, which also take a
    channel stride (``name_e``; their chunks are transposed in the kernel when it is not 1).
    """
    setattr(args, name, _ptr(t))
    if t is None:
        return
    st, sb, se = (t.stride(0), t.stride(1), t.stride(2)) if time_major else (t.stride(2), t.stride(0), t.stride(1))
    setattr(args, f"{name}_t", st)
    setattr(args, f"{name}_b", sb)
    n_channels = t.shape[2] if time_major else t.shape[1]
    if name in ("u", "delta", "z"):
        setattr(args, f"{name}_e", 1 if n_channels == 1 else se)


def _params(A: torch.Tensor, D, bias, e8: int):
    """A (E, S) → A and A·log2 e as (E8/8, S, 8) (each vector of channels' block contiguous);
    D, bias (E,) → (E8,); all float32, zero-padded to E8 channels."""
    n_inner, n_state = A.shape
    A_g = A.new_zeros(e8, n_state, dtype=torch.float32)
    A_g[:n_inner] = A.detach()
    A_g = A_g.view(e8 // _LANES, _LANES, n_state).transpose(1, 2).contiguous()  # (E8/8, S, 8)

    def padded(v):
        if v is None:
            return None
        out = v.new_zeros(e8, dtype=torch.float32)
        out[:n_inner] = v.detach()
        return out

    return A_g, A_g * _LOG2_E, padded(D), padded(bias)


def channel_ranges(n_inner: int) -> list[tuple[int, int]]:
    """Channels [0, E) as runs [e0, e1) that start on whole vectors of 8 channels (only the last may
    end inside one): one run on one thread; with P = ``torch.get_num_threads()`` > 1, up to
    :data:`RUNS_PER_THREAD` · P runs, handed out to the threads as they come free (see :func:`launch`)."""
    groups = -(-n_inner // _LANES)
    threads = torch.get_num_threads()
    parts = max(1, min(groups, 1 if threads == 1 else RUNS_PER_THREAD * threads))
    bounds = [round(i * groups / parts) * _LANES for i in range(parts + 1)]
    return [(e0, min(e1, n_inner)) for e0, e1 in zip(bounds[:-1], bounds[1:]) if e0 < e1]


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < workers:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool, _pool_size = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="memamba-scan"), workers
        return _pool


def launch(fn, calls: list) -> None:
    """Run kernel ``fn`` on every args struct (one per channel run).

    This thread and ``torch.get_num_threads() - 1`` pool threads take the runs from one shared
    queue as they come free, so a thread that the OS holds back (a busy machine, PyTorch's own
    OpenMP threads still spinning after a matmul) delays nothing but its current run. A run's
    nonzero return code is raised (1: MemoryError).
    """
    refs = [ctypes.byref(a) for a in calls]
    workers = min(torch.get_num_threads(), len(refs))
    if workers <= 1:
        codes = [fn(r) for r in refs]
    else:
        queue = iter(refs)  # next() on a list iterator is atomic under the GIL

        def drain() -> list[int]:
            return [fn(r) for r in queue]

        futures = [_executor(workers - 1).submit(drain) for _ in range(workers - 1)]
        codes = drain() + [c for f in futures for c in f.result()]
    if 1 in codes:
        raise MemoryError("the fused CPU kernel could not allocate its buffers")
    if any(codes):
        raise RuntimeError(f"the fused CPU kernel refused its arguments (code {max(codes)})")


def _base_args(u, delta, A_g, A2_g, Bm, C, D_p, z, bias_p, softplus, *, time_major=False) -> SSArgs:
    if time_major:
        n_steps, batch, n_inner = u.shape
    else:
        batch, n_inner, n_steps = u.shape
    args = SSArgs(L=n_steps, B=batch, E=n_inner, S=A_g.shape[1], T=CHUNK, softplus=int(softplus))
    for name, t in (("u", u), ("delta", delta), ("z", z), ("Bm", Bm), ("Cm", C)):
        _set_stream(args, name, t, time_major)
    args.A, args.A2, args.D, args.bias = _ptr(A_g), _ptr(A2_g), _ptr(D_p), _ptr(bias_p)
    return args


def per_thread(base: ctypes.Structure, n_inner: int) -> list:
    """Copies of a kernel's argument struct (any with ``e0``/``e1`` fields), one per :func:`channel_ranges` run."""
    calls = []
    for e0, e1 in channel_ranges(n_inner):
        a = type(base)()
        ctypes.memmove(ctypes.byref(a), ctypes.byref(base), ctypes.sizeof(base))
        a.e0, a.e1 = e0, e1
        calls.append(a)
    return calls


def scan_time_major(
    u, delta, A, Bm, C, *, delta_bias=None, delta_softplus=False, D=None, z=None, h=None, out=None
) -> torch.Tensor:
    """The no-grad forward on time-major float32 inputs, from and to a carried state (streaming inference).

    Args (each with unit stride on its last axis; other strides free, e.g. row slices of a wider buffer):
        u, delta: (L, B, E), Δ before ``delta_bias`` / softplus; A: (E, S); Bm, C: (L, B, S).
        delta_bias, D: (E,) or None; z: (L, B, E) gate or None.
        h: (B·S·E,) contiguous state, lanes ordered (B, S, E), before step 0; updated in place to
           the state after step L-1. None: zero start.
        out: (L, B, E) buffer for y (unit last stride), or None.

    Returns:
        y: (L, B, E).
    """
    lib = require_kernel()
    n_steps, batch, n_inner = u.shape
    e8 = -(-n_inner // _LANES) * _LANES
    A_g, A2_g, D_p, bias_p = _params(A, D, delta_bias, e8)
    y = u.new_empty(n_steps, batch, n_inner) if out is None else out
    args = _base_args(u, delta, A_g, A2_g, Bm, C, D_p, z, bias_p, delta_softplus, time_major=True)
    _set_stream(args, "y", y, time_major=True)
    args.h = _ptr(h)
    launch(lib.ss_forward, per_thread(args, n_inner))
    return y


def _forward(u, delta, A, Bm, C, D, z, bias, softplus, keep_states: bool):
    """Run the forward kernel on (B, ·, L) float32 inputs (as :func:`selective_scan_cpu` prepares them).

    Returns (y (B, E, L) view of (B, L, E) memory, checkpoints (n_chunks, B, S, E) or None, padded params).
    """
    batch, n_inner, n_steps = u.shape
    e8 = -(-n_inner // _LANES) * _LANES
    params = _params(A, D, bias, e8)
    y = _fresh(batch, n_steps, n_inner, like=u).transpose(1, 2)
    ckpt = _fresh(-(-n_steps // CHUNK), batch, A.shape[1], n_inner, like=u) if keep_states else None
    args = _base_args(u, delta, *params[:2], Bm, C, params[2], z, params[3], softplus)
    _set_stream(args, "y", y)
    args.ckpt = _ptr(ckpt)
    launch(require_kernel().ss_forward, per_thread(args, n_inner))
    return y, ckpt, params


class _SelectiveScanCPU(torch.autograd.Function):
    """The whole scan (bias, softplus, D and gate included) as one autograd op over the kernel."""

    @staticmethod
    def forward(ctx, u, delta, A, Bm, C, D, z, bias, softplus):
        y, ckpt, params = _forward(u, delta, A, Bm, C, D, z, bias, softplus, keep_states=True)
        ctx.save_for_backward(u, delta, Bm, C, z, ckpt, *params)
        ctx.softplus = softplus
        ctx.shapes = (A.shape, D is not None, bias is not None)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, gy):
        u, delta, Bm, C, z, ckpt, A_g, A2_g, D_p, bias_p = ctx.saved_tensors
        a_shape, has_d, has_bias = ctx.shapes
        batch, n_inner, n_steps = u.shape
        n_state = a_shape[1]
        e8 = A_g.shape[0] * _LANES
        gy = _unit_axis(gy.float(), (1,))

        def grad_like():  # (B, E, L) view of (B, L, E) memory
            return _fresh(batch, n_steps, n_inner, like=u).transpose(1, 2)

        gu, gdelta = grad_like(), grad_like()
        gz = grad_like() if z is not None else None
        gA_g = u.new_empty(e8 // _LANES, n_state, _LANES)
        gD = u.new_empty(e8) if has_d else None
        gbias = u.new_empty(e8) if has_bias else None
        args = _base_args(u, delta, A_g, A2_g, Bm, C, D_p, z, bias_p, ctx.softplus)
        for name, t in (("gy", gy), ("gu", gu), ("gdelta", gdelta), ("gz", gz)):
            _set_stream(args, name, t)
        args.ckpt, args.gA, args.gD, args.gbias = _ptr(ckpt), _ptr(gA_g), _ptr(gD), _ptr(gbias)
        args.gB_t = args.gC_t = n_state
        args.gB_b = args.gC_b = n_steps * n_state
        calls = per_thread(args, n_inner)
        g_bc = u.new_empty(2, len(calls), batch, n_steps, n_state)  # per-run partial Σ_e of dB, dC
        for p, a in enumerate(calls):
            a.gB, a.gC = _ptr(g_bc[0, p]), _ptr(g_bc[1, p])
        launch(require_kernel().ss_backward, calls)
        g_bc = g_bc[:, 0] if len(calls) == 1 else g_bc.sum(1)
        gB, gC = (g.transpose(1, 2) for g in g_bc)  # (B, S, L)
        gA = gA_g.transpose(1, 2).reshape(e8, n_state)[:n_inner]
        return (
            gu,
            gdelta,
            gA,
            gB,
            gC,
            None if gD is None else gD[:n_inner],
            gz,
            None if gbias is None else gbias[:n_inner],
            None,
        )


def _needs_grad(*tensors) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def selective_scan_cpu(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
) -> torch.Tensor:
    """Selective scan by the fused C kernel (CPU tensors; float32, or bf16/fp16 computed in float32).

    Args:
        u: (B, E, L) input.
        delta: (B, E, L) step sizes Δ (before ``delta_bias`` / softplus).
        A: (E, S) state matrix.
        B: (B, S, L) input-dependent input matrix.
        C: (B, S, L) input-dependent output matrix.
        D: (E,) skip connection, optional.
        z: (B, E, L) gate, optional (output multiplied by silu(z)).
        delta_bias: (E,) added to Δ before the softplus, optional.
        delta_softplus: apply softplus to Δ (+ bias).

    Returns:
        y: (B, E, L) in the dtype of ``u``.

    Raises:
        RuntimeError: the kernel is not available (see :func:`.cpu_kernel.unavailable_reason`),
            or float64 input.
    """
    require_kernel()
    if u.dtype not in SUPPORTED_DTYPES:
        raise RuntimeError(f"the fused CPU scan computes in float32; got {u.dtype} (use the 'torch' backend)")
    dtype_in = u.dtype
    u, delta = (_unit_axis(t.float(), (1, 2)) for t in (u, delta))
    B, C = (_unit_axis(t.float(), (1,)) for t in (B, C))
    z = None if z is None else _unit_axis(z.float(), (1, 2))
    A = A.float()
    D, delta_bias = (None if t is None else t.float() for t in (D, delta_bias))
    if _needs_grad(u, delta, A, B, C, D, z, delta_bias):
        y = _SelectiveScanCPU.apply(u, delta, A, B, C, D, z, delta_bias, bool(delta_softplus))
    else:
        y = _forward(u, delta, A, B, C, D, z, delta_bias, delta_softplus, keep_states=False)[0]
    return y.to(dtype_in)
