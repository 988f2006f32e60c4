"""The fast pure-PyTorch selective scan (any device; the fallback where the fused CPU kernel cannot run).

Same signature and result as :func:`~memamba_core.ssm.scan_ref.selective_scan_ref`.
Glossary: B batch, E inner width, S state size, L length, M = B·E·S lanes.

Inputs are taken time-major, (L, B, ·) (a free view of the (B, L, E) memory the
Mamba block passes at B = 1; (B, E, L)-contiguous input is transposed once).
The sequence is processed in blocks of ``L_b`` steps (about 2^19 / M of them,
so a block's (L_b, B, S, E) buffers are 2 MiB whatever L is and stay in cache):
per block, the decays exp(Δ·A) and inputs Δ·u·B are built in reused buffers,
the recurrence runs one in-place ``addcmul_`` per step over all M lanes
(:func:`.recurrence.sequential_recurrence_`), and ``y_t = Σ_s C_t,s x_t,s`` is
one batched matmul; the state is carried from block to block. The whole
(L, E, S) state never exists at once.

Without autograd (inference) Δ's bias and softplus, D and the SiLU(z) gate are
applied per block too, and the scan can start from and hand back a state, so
:mod:`.inference` streams a Mamba block piece by piece.

Backward is a custom :class:`torch.autograd.Function`: the forward keeps only
the inputs and the (B, E, S) state at each block start; the backward walks the
blocks from last to first, recomputes that block's states, runs the adjoint
recurrence ``λ_t = C_t·dy_t + exp(Δ_{t+1}A) ⊙ λ_{t+1}`` backwards in time in
place (no flips) and accumulates the gradients of u, Δ, A, B, C (the sums over
E and S as batched matmuls). Memory for forward + backward stays
O(L·(E + S) + L_b·M). Bias, softplus, D and the gate z are ordinary autograd
ops around that core.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .recurrence import sequential_recurrence_

__all__ = ["selective_scan_torch", "block_length"]

_BLOCK_ELEMENTS = 1 << 19  # values per (L_b, M) buffer: 2 MiB in float32, so a block's buffers stay in cache
_LOG2_E = math.log2(math.e)


def block_length(n_lanes: int, n_steps: int) -> int:
    """L_b: steps per block for M = ``n_lanes`` lanes (≥ 1, ≤ L)."""
    return max(1, min(n_steps, _BLOCK_ELEMENTS // max(n_lanes, 1)))


def _time_major(t: torch.Tensor) -> torch.Tensor:
    """(B, C, L) → (L, B, C) contiguous; no copy for the (B, L, C) memory the Mamba block passes at B = 1.

    (B, C, L)-contiguous input is transposed one 2-D (C, L) slice at a time: that is the copy
    PyTorch runs as a cache-blocked transpose (several times faster than a 3-D permute copy).
    """
    tm = t.permute(2, 0, 1)
    if tm.is_contiguous():
        return tm
    if t.stride(-1) == 1:
        return torch.stack([t_b.t().contiguous() for t_b in t.unbind(0)], dim=1)
    return tm.contiguous()


def _step_sizes(delta, l0, l1, delta_bias=None, delta_softplus=False):
    """Δ of steps [l0, l1) as (L_b, B, 1, E); delta: (L, B, E); bias and softplus applied here when given."""
    d = delta[l0:l1, :, None, :]
    if delta_bias is not None:
        d = d + delta_bias
    if delta_softplus:
        d = F.softplus(d)
    return d


def _block_terms(d, u, At2, Bm, l0, l1, a_buf, b_buf):
    """Decays and inputs of steps [l0, l1), lanes ordered (B, S, E) so E is innermost.

    Args: d: (L_b, B, 1, E) final Δ of the block; u: (L, B, E); At2: (S, E) = Aᵀ·log2(e);
    Bm: (L, B, S); a_buf, b_buf: (≥ L_b, B, S, E) reusable buffers (reuse avoids fresh pages per block).
    Returns: a = exp(Δ·A) and b = Δ·u·B, both (L_b, B, S, E) views of the buffers; du = Δ·u as (L_b, B, 1, E).
    """
    n = l1 - l0
    du = d * u[l0:l1, :, None, :]
    a = torch.mul(d, At2, out=a_buf[:n]).exp2_()  # exp(Δ·A) as 2^(Δ·A·log2 e): faster on CPU
    b = torch.mul(du, Bm[l0:l1, :, :, None], out=b_buf[:n])
    return a, b, du


def _contract(x: torch.Tensor, c: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """y_t = Σ_s c_t,s · x_t,s,: as one batched matmul. x: (L_b, B, S, E); c: (L_b, B, S) → out (L_b·B, 1, E)."""
    n, batch, n_state, n_inner = x.shape
    return torch.bmm(c.reshape(n * batch, 1, n_state), x.view(n * batch, n_state, n_inner), out=out)


def _scan_blocks(
    u, delta, A, Bm, C, *, delta_bias=None, delta_softplus=False, D=None, z=None, states=None, h=None, out=None
):
    """The forward scan, block by block, never holding more than one block's (L_b, B, S, E) state.

    Args (time-major, contiguous, in the working dtype):
        u, delta: (L, B, E), Δ final unless ``delta_bias`` / ``delta_softplus`` are given (then
        applied per block); A: (E, S); Bm, C: (L, B, S).
        D: (E,) and z: (L, B, E): skip and gate, applied per block when given (the no-grad path).
        states: (n_blocks, M) filled with the state entering each block (for the backward), or None.
        h: (M,) state before step 0, updated in place to the state after step L-1 (a scan run in
        pieces, as the streaming inference does), or None for a zero start.
        out: (L, B, E) buffer for y, or None.

    Returns:
        y: (L, B, E).
    """
    n_steps, batch, n_inner = u.shape
    n_state = A.shape[1]
    lanes = batch * n_inner * n_state
    At2 = (A * _LOG2_E).t().contiguous()  # (S, E)
    step = block_length(lanes, n_steps)
    y = u.new_empty(n_steps, batch, n_inner) if out is None else out
    a_buf, x_buf = (u.new_empty(step, batch, n_state, n_inner) for _ in range(2))
    start = h is not None
    h = u.new_zeros(lanes) if h is None else h  # state entering the block
    for i, l0 in enumerate(range(0, n_steps, step)):
        l1 = min(l0 + step, n_steps)
        n = l1 - l0
        if states is not None:
            states[i].copy_(h)
        d = _step_sizes(delta, l0, l1, delta_bias, delta_softplus)
        a, x, _ = _block_terms(d, u, At2, Bm, l0, l1, a_buf, x_buf)
        last = sequential_recurrence_(a.view(n, lanes), x.view(n, lanes), h if (i or start) else None)
        h.copy_(last)
        yb = _contract(x, C[l0:l1], y[l0:l1].view(n * batch, 1, n_inner)).view(n, batch, n_inner)
        if D is not None:
            yb.addcmul_(u[l0:l1], D)
        if z is not None:
            yb.mul_(F.silu(z[l0:l1]))
    return y


class _SelectiveScanCore(torch.autograd.Function):
    """y[b, e, t] = Σ_s C[b, s, t] · x[b, e, s, t] with x the scan's state. Δ already final.

    Takes and returns the (B, E, L) layout; works time-major inside.
    """

    @staticmethod
    def forward(ctx, u, delta, A, Bm, C):
        n_steps = u.shape[-1]
        u, delta, Bm, C = (_time_major(t) for t in (u, delta, Bm, C))
        lanes = u.shape[1] * u.shape[2] * A.shape[1]
        step = block_length(lanes, n_steps)
        states = u.new_empty(-(-n_steps // step), lanes)  # (n_blocks, M)
        y = _scan_blocks(u, delta, A, Bm, C, states=states)
        ctx.save_for_backward(u, delta, A, Bm, C, states)
        ctx.step = step
        return y.permute(1, 2, 0)

    @staticmethod
    def backward(ctx, gy):
        u, delta, A, Bm, C, block_states = ctx.saved_tensors  # time-major (L, B, ·)
        step = ctx.step
        n_steps, batch, n_inner = u.shape
        n_state = A.shape[1]
        lanes = batch * n_inner * n_state
        At = A.t().contiguous()  # (S, E)
        At2 = At * _LOG2_E
        gy = _time_major(gy.to(u.dtype))  # (L, B, E)
        gu, gdelta = torch.empty_like(u), torch.empty_like(delta)  # (L, B, E)
        gB, gC = torch.empty_like(Bm), torch.empty_like(C)  # (L, B, S)
        gAt = torch.zeros_like(At)
        starts = list(range(0, n_steps, step))
        carry = None  # exp(Δ_{l1}A) ⊙ λ_{l1} from the block after, (M,)
        a_buf, b_buf, x_buf, lam_buf = (u.new_empty(step, batch, n_state, n_inner) for _ in range(4))
        for i in reversed(range(len(starts))):
            l0 = starts[i]
            l1 = min(l0 + step, n_steps)
            n = l1 - l0
            nb = n * batch
            d = _step_sizes(delta, l0, l1)  # (L_b, B, 1, E)
            a, b, du = _block_terms(d, u, At2, Bm, l0, l1, a_buf, b_buf)  # (L_b, B, S, E)
            # forward states of the block, x: (L_b, B, S, E)
            x = x_buf[:n].copy_(b)
            sequential_recurrence_(a.view(n, lanes), x.view(n, lanes), block_states[i] if i else None)
            # adjoint λ_t = C_t·dy_t + a_{t+1} ⊙ λ_{t+1}, run backwards in time (no flips)
            g = gy[l0:l1, :, None, :]  # (L_b, B, 1, E)
            lam = torch.mul(g, C[l0:l1, :, :, None], out=lam_buf[:n])
            if carry is not None:
                lam[-1] += carry.view(lam.shape[1:])
            if n > 1:
                sequential_recurrence_(a[1:].view(n - 1, lanes), lam[:-1].view(n - 1, lanes), lam[-1].view(lanes), True)
            carry = (a[0] * lam[0]).reshape(lanes)
            lam3 = lam.view(nb, n_state, n_inner)
            # Σ_e as row · matrixᵀ: (1, E) @ (E, S) per step (the gemv form is several times slower)
            xt = x.view(nb, n_state, n_inner).transpose(1, 2)
            torch.bmm(g.reshape(nb, 1, n_inner), xt, out=gC[l0:l1].view(nb, 1, n_state))
            torch.bmm(du.view(nb, 1, n_inner), lam3.transpose(1, 2), out=gB[l0:l1].view(nb, 1, n_state))
            lam_b = torch.bmm(Bm[l0:l1].view(nb, 1, n_state), lam3).view(n, batch, 1, n_inner)  # Σ_s λ·B
            q = x.sub_(b).mul_(lam)  # λ_t ⊙ a_t ⊙ x_{t-1}
            gAt += torch.mul(q, d, out=b).sum((0, 1))
            gd = q.mul_(At).sum(2, keepdim=True).addcmul_(lam_b, u[l0:l1, :, None, :])
            gdelta[l0:l1] = gd.view(n, batch, n_inner)
            torch.mul(lam_b.view(n, batch, n_inner), d.view(n, batch, n_inner), out=gu[l0:l1])
        grads = (t.permute(1, 2, 0) for t in (gu, gdelta, gB, gC))  # back to (B, ·, L)
        gu, gdelta, gB, gC = grads
        return gu, gdelta, gAt.t(), gB, gC


def _needs_grad(*tensors) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def selective_scan_torch(
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
    """Fast selective scan in pure PyTorch (chunked, memory-bounded forward and backward).

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
        y: (B, E, L) in the dtype of ``u`` (computed in float32, or float64 for float64 input).
    """
    dtype_in = u.dtype
    work = torch.promote_types(u.dtype, torch.float32)
    u, delta, A, B, C = (t.to(work) for t in (u, delta, A, B, C))  # any strides: (B, L, E) memory is best
    if not _needs_grad(u, delta, A, B, C, D, z, delta_bias):  # inference: everything fused per block
        D, delta_bias = (None if t is None else t.to(work) for t in (D, delta_bias))
        u, delta, B, C = (_time_major(t) for t in (u, delta, B, C))
        z = None if z is None else _time_major(z.to(work))
        y = _scan_blocks(u, delta, A, B, C, delta_bias=delta_bias, delta_softplus=delta_softplus, D=D, z=z)
        return y.permute(1, 2, 0).to(dtype_in)  # (B, E, L) view of (L, B, E) memory
    if delta_bias is not None:
        delta = delta + delta_bias.to(work)[None, :, None]
    if delta_softplus:
        delta = F.softplus(delta)
    y = _SelectiveScanCore.apply(u, delta, A, B, C)
    if D is not None:
        y = y + D.to(work)[None, :, None] * u
    if z is not None:
        y = y * F.silu(z.to(work))
    return y.to(dtype_in)
