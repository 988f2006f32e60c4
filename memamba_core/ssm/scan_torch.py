"""The fast pure-PyTorch selective scan (any device; the CPU default).

Same signature and result as :func:`~memamba_core.ssm.scan_ref.selective_scan_ref`.
Glossary: B batch, E inner width, S state size, L length, M = B·E·S lanes.

The sequence is processed in blocks of ``L_b`` steps (about 2^20 / M of them,
so a block's buffers stay a few MiB whatever L is): per block, the decays
exp(Δ·A) and inputs Δ·u·B are built as (L_b, M) and handed to the chunked
in-place recurrence of :mod:`.recurrence`; the state is carried from block to
block. The whole (L, E, S) state never exists at once.

Backward is a custom :class:`torch.autograd.Function`: the forward keeps only
the inputs and the (B, E, S) state at each block start; the backward walks the
blocks from last to first, recomputes that block's states, runs the adjoint
recurrence ``λ_t = C_t·dy_t + exp(Δ_{t+1}A) ⊙ λ_{t+1}`` (the same chunked
engine, time reversed) and accumulates the gradients of u, Δ, A, B, C. Memory
for forward + backward stays O(L·(E + S) + L_b·M). Bias, softplus, D and the
gate z are ordinary autograd ops around that core.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange

from .recurrence import linear_recurrence_

__all__ = ["selective_scan_torch", "block_length"]

_BLOCK_ELEMENTS = 1 << 20  # values per (L_b, M) buffer: 4 MiB in float32
_LOG2_E = math.log2(math.e)


def block_length(n_lanes: int, n_steps: int) -> int:
    """L_b: steps per block for M = ``n_lanes`` lanes (≥ 1, ≤ L)."""
    return max(1, min(n_steps, _BLOCK_ELEMENTS // max(n_lanes, 1)))


def _block_terms(u, delta, At, Bm, l0, l1, a_buf, b_buf):
    """Decays and inputs of steps [l0, l1), lanes ordered (B, S, E) so E is innermost.

    Args: u, delta: (B, E, L); At: (S, E) = Aᵀ; Bm: (B, S, L);
    a_buf, b_buf: (≥ L_b, B, S, E) reusable buffers (reuse avoids fresh pages per block).
    Returns: a = exp(Δ·A) and b = Δ·u·B, both (L_b, B, S, E) views of the buffers;
    d = Δ and du = Δ·u as (L_b, B, 1, E).
    """
    n = l1 - l0
    d = rearrange(delta[:, :, l0:l1], "b e l -> l b 1 e").contiguous()
    du = d * rearrange(u[:, :, l0:l1], "b e l -> l b 1 e")
    a = torch.mul(d, At * _LOG2_E, out=a_buf[:n]).exp2_()  # exp(Δ·A) as 2^(Δ·A·log2 e): faster on CPU
    b = torch.mul(du, rearrange(Bm[:, :, l0:l1], "b s l -> l b s 1"), out=b_buf[:n])
    return a, b, d, du


def _contract_state(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Σ_s c ⊙ x over the state axis. x: (L_b, B, S, E); c: (L_b, B, S) → (L_b, B, E)."""
    out = x[:, :, 0] * c[:, :, 0, None]
    for s in range(1, x.shape[2]):
        out.addcmul_(x[:, :, s], c[:, :, s, None])
    return out


class _SelectiveScanCore(torch.autograd.Function):
    """y[b, e, t] = Σ_s C[b, s, t] · x[b, e, s, t] with x the scan's state. Δ already final."""

    @staticmethod
    def forward(ctx, u, delta, A, Bm, C):
        batch, n_inner, n_steps = u.shape
        n_state = A.shape[1]
        lanes = batch * n_inner * n_state
        At = A.t().contiguous()  # (S, E)
        step = block_length(lanes, n_steps)
        starts = list(range(0, n_steps, step))
        y = u.new_empty(batch, n_steps, n_inner).transpose(1, 2)  # (B, E, L) view of (B, L, E) memory
        h = None  # state before the block, (M,)
        block_states = u.new_zeros(len(starts), lanes)
        bufs = [u.new_empty(step, batch, n_state, n_inner) for _ in range(2)]
        for i, l0 in enumerate(starts):
            l1 = min(l0 + step, n_steps)
            if h is not None:
                block_states[i].copy_(h)
            a, x, _, _ = _block_terms(u, delta, At, Bm, l0, l1, *bufs)
            h = linear_recurrence_(a.view(l1 - l0, lanes), x.view(l1 - l0, lanes), h).clone()
            yb = _contract_state(x, rearrange(C[:, :, l0:l1], "b s l -> l b s"))  # (L_b, B, E)
            y[:, :, l0:l1] = rearrange(yb, "l b e -> b e l")
        ctx.save_for_backward(u, delta, A, Bm, C, block_states)
        ctx.step = step
        return y

    @staticmethod
    def backward(ctx, gy):
        u, delta, A, Bm, C, block_states = ctx.saved_tensors
        step = ctx.step
        batch, n_inner, n_steps = u.shape
        n_state = A.shape[1]
        lanes = batch * n_inner * n_state
        At = A.t().contiguous()  # (S, E)
        gy = gy.to(u.dtype)
        gu = torch.empty_like(u)
        gdelta = torch.empty_like(delta)
        gAt = torch.zeros_like(At)
        gB = torch.empty_like(Bm)
        gC = torch.empty_like(C)
        starts = list(range(0, n_steps, step))
        carry = None  # exp(Δ_{l1}A) ⊙ λ_{l1} from the block after, (M,)
        bufs = [u.new_empty(step, batch, n_state, n_inner) for _ in range(5)]
        for i in reversed(range(len(starts))):
            l0 = starts[i]
            l1 = min(l0 + step, n_steps)
            n = l1 - l0
            a_buf, b_buf, x_buf, work_buf, lam_buf = (buf[:n] for buf in bufs)
            a, b, d, du = _block_terms(u, delta, At, Bm, l0, l1, a_buf, b_buf)  # (L_b, B, S, E)
            # forward states of the block, x: (L_b, B, S, E)
            x = x_buf.copy_(b)
            work = work_buf.copy_(a)
            linear_recurrence_(work.view(n, lanes), x.view(n, lanes), block_states[i] if i else None)
            # adjoint, time reversed: λ_τ with τ = n-1-t; the decay in front of λ_{t+1} is a_{t+1}
            g = rearrange(gy[:, :, l0:l1], "b e l -> l b 1 e")
            c = rearrange(C[:, :, l0:l1], "b s l -> l b s 1")
            lam = torch.mul(g.flip(0), c.flip(0), out=lam_buf)  # C_t·dy_t, reversed
            if carry is not None:
                lam[0] += carry.view(lam.shape[1:])
            work[1:] = a[1:].flip(0)
            linear_recurrence_(work.view(n, lanes), lam.view(n, lanes), None)
            lam = torch.flip(lam, dims=(0,))  # λ_t, forward order, (L_b, B, S, E)
            carry = (a[0] * lam[0]).reshape(lanes)
            gC[:, :, l0:l1] = rearrange((x * g).sum(-1), "l b s -> b s l")
            bcol = rearrange(Bm[:, :, l0:l1], "b s l -> l b s 1")
            lam_b = (lam * bcol).sum(2, keepdim=True)  # Σ_s λ·B, (L_b, B, 1, E)
            gB[:, :, l0:l1] = rearrange((lam * du).sum(-1), "l b s -> b s l")
            q = x.sub_(b).mul_(lam)  # λ_t ⊙ a_t ⊙ x_{t-1}
            gAt += (q * d).sum((0, 1))
            gd = (q * At).sum(2, keepdim=True) + lam_b * rearrange(u[:, :, l0:l1], "b e l -> l b 1 e")
            gdelta[:, :, l0:l1] = rearrange(gd, "l b 1 e -> b e l")
            gu[:, :, l0:l1] = rearrange(lam_b * d, "l b 1 e -> b e l")
        return gu, gdelta, gAt.t(), gB, gC


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
