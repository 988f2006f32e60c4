"""The sequential selective scan: the oracle every fast path is checked against.

Kept slow on purpose (as ``mamba_ssm``'s ``selective_scan_ref`` and
``mamba.py``'s ``selective_scan_seq``): one Python step per position, written
straight from the recurrence so that it is obviously right.

Glossary: B batch, E inner width (channels), S state size, L sequence length.

Recurrence, for each batch b and channel e (Δ after bias and softplus)::

    x_t = exp(Δ_t · A) ⊙ x_{t-1} + Δ_t · u_t · B_t          x: (S,)
    y_t = ⟨C_t, x_t⟩ + D · u_t
    y_t ← y_t · silu(z_t)                                     (when z is given)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["selective_scan_ref"]


def selective_scan_ref(
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
    """Selective scan by a plain loop over L (the reference).

    Args:
        u: (B, E, L) input.
        delta: (B, E, L) step sizes Δ (before ``delta_bias`` / softplus).
        A: (E, S) state matrix (diagonal per channel, negative real part).
        B: (B, S, L) input-dependent input matrix.
        C: (B, S, L) input-dependent output matrix.
        D: (E,) skip connection, optional.
        z: (B, E, L) gate, optional: the output is multiplied by silu(z).
        delta_bias: (E,) added to Δ before the softplus, optional.
        delta_softplus: apply softplus to Δ (+ bias).

    Returns:
        y: (B, E, L), in the dtype of ``u``. Computed in float32 at least
        (float64 stays float64), as the CUDA kernel does.
    """
    dtype_in = u.dtype
    work = torch.promote_types(u.dtype, torch.float32)
    u, delta, A, B, C = (t.to(work) for t in (u, delta, A, B, C))
    if delta_bias is not None:
        delta = delta + delta_bias.to(work)[None, :, None]
    if delta_softplus:
        delta = F.softplus(delta)
    batch, n_inner, _ = u.shape
    x = u.new_zeros(batch, n_inner, A.shape[1])  # (B, E, S)
    ys = []
    for u_t, d_t, b_t, c_t in zip(u.unbind(-1), delta.unbind(-1), B.unbind(-1), C.unbind(-1)):
        # u_t, d_t: (B, E); b_t, c_t: (B, S)
        decay = torch.exp(d_t[:, :, None] * A[None])  # (B, E, S)
        x = decay * x + (d_t * u_t)[:, :, None] * b_t[:, None, :]
        ys.append((x * c_t[:, None, :]).sum(-1))  # (B, E)
    y = torch.stack(ys, dim=-1)  # (B, E, L)
    if D is not None:
        y = y + D.to(work)[None, :, None] * u
    if z is not None:
        y = y * F.silu(z.to(work))
    return y.to(dtype_in)
