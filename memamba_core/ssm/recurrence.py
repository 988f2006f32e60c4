"""Chunked first-order linear recurrence, in place: the engine of the fast scan.

Solves ``h_t = a_t ⊙ h_{t-1} + b_t`` for t = 0 … L-1 with a given h_{-1}, where
every a_t is a decay (|a_t| ≤ 1 in the selective scan). Glossary: L steps of
one block, M = B·E·S independent lanes (batch × channels × state).

Two levels, no Python loop over L:

1. The L steps are cut into ``n_chunks`` chunks of T steps. A loop over the T
   positions runs *all chunks at once* (each op touches n_chunks · M values),
   giving each chunk's local states (zero initial state) and its cumulative
   decays ``Π_{k≤t} a_k`` within the chunk.
2. A loop over the chunks carries the state across chunk boundaries
   (each op touches M values), and one fused op adds
   ``cumulative decay ⊙ incoming state`` to every local state.

Every factor is a product of decays, so nothing can overflow whatever the size
of A·ΣΔ (exp(A·cumΔ) underflows to 0 at worst, which is the exact limit);
there is no re-referencing to get wrong. Cost: about three passes over (L, M)
plus 2T + n_chunks small Python-level ops.
"""

from __future__ import annotations

import math

import torch

__all__ = ["linear_recurrence_", "chunk_length"]


def chunk_length(n_steps: int) -> int:
    """T for a block of ``n_steps``: about √L, balancing the two Python loops."""
    return max(1, int(math.isqrt(max(n_steps, 1))))


def linear_recurrence_(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> torch.Tensor:
    """Run ``h_t = a_t ⊙ h_{t-1} + b_t`` in place over the first axis.

    Args:
        a: (L, M) decays; overwritten (holds within-chunk cumulative decays after).
        b: (L, M) inputs; overwritten with the states h_t.
        h0: (M,) state before step 0, or None for zeros.

    Returns:
        (M,) the last state h_{L-1} (a view into ``b``).
    """
    n_steps, n_lanes = b.shape
    chunk = chunk_length(n_steps)
    n_chunks = n_steps // chunk
    main = n_chunks * chunk
    if n_chunks > 1 or h0 is not None:
        av = a[:main].view(n_chunks, chunk, n_lanes)  # (c, T, M)
        bv = b[:main].view(n_chunks, chunk, n_lanes)
        for t in range(1, chunk):  # local states and cumulative decays, all chunks at once
            bv[:, t].addcmul_(av[:, t], bv[:, t - 1])
            av[:, t].mul_(av[:, t - 1])
        carry = b.new_empty(n_chunks, n_lanes)  # state entering each chunk
        if h0 is None:
            carry[0].zero_()
        else:
            carry[0].copy_(h0)
        for c in range(1, n_chunks):
            torch.addcmul(bv[c - 1, -1], av[c - 1, -1], carry[c - 1], out=carry[c])
        if h0 is None:  # chunk 0 needs no fix-up
            bv[1:].addcmul_(av[1:], carry[1:, None, :])
        else:
            bv.addcmul_(av, carry[:, None, :])
    else:  # one chunk from a zero state: a plain in-place loop
        for t in range(1, chunk):
            b[t].addcmul_(a[t], b[t - 1])
    for t in range(main, n_steps):  # the remainder (< T steps); main ≥ T ≥ 1
        b[t].addcmul_(a[t], b[t - 1])
    return b[-1]
