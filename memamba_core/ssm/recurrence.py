"""First-order linear recurrences, in place: the engines of the fast scan.

:func:`sequential_recurrence_` (one op per step over all lanes) is what the
scan runs on its cache-sized blocks; :func:`linear_recurrence_` below is the
chunked engine, for long blocks where per-step ops would be too small.

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

__all__ = ["linear_recurrence_", "sequential_recurrence_", "chunk_length"]


def chunk_length(n_steps: int) -> int:
    """T for a block of ``n_steps``: about √L, balancing the two Python loops."""
    return max(1, int(math.isqrt(max(n_steps, 1))))


def linear_recurrence_(
    a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None, reverse: bool = False
) -> torch.Tensor:
    """Run ``h_t = a_t ⊙ h_{t-1} + b_t`` in place over the first axis (or, with
    ``reverse``, ``h_t = a_t ⊙ h_{t+1} + b_t`` from the last step down to the first).

    Args:
        a: (L, M) decays; overwritten (holds within-chunk cumulative decays after).
        b: (L, M) inputs; overwritten with the states h_t.
        h0: (M,) state before the first step taken (h_{-1}, or h_L when reversed), or None for zeros.
        reverse: run backwards in time (the adjoint of the forward recurrence), without flipping copies.

    Returns:
        (M,) the last state taken: h_{L-1} (h_0 when reversed), a view into ``b``.
    """
    n_steps, n_lanes = b.shape
    chunk = chunk_length(n_steps)
    n_chunks = n_steps // chunk
    main = n_chunks * chunk
    rest = n_steps - main
    # the chunked body: steps [0, main) forward, [rest, L) reversed; the leftover < T steps run after it
    body = slice(rest, n_steps) if reverse else slice(0, main)
    o, out = (1, 0) if reverse else (-1, -1)  # the neighbour t + o a step reads; a chunk's outgoing position
    if n_chunks > 1 or h0 is not None:
        av = a[body].view(n_chunks, chunk, n_lanes)  # (c, T, M)
        bv = b[body].view(n_chunks, chunk, n_lanes)
        a_t, b_t = av.unbind(1), bv.unbind(1)  # T views (c, M) each: one op instead of 2T selects
        steps = range(chunk - 2, -1, -1) if reverse else range(1, chunk)
        for t in steps:  # local states and cumulative decays, all chunks at once
            b_t[t].addcmul_(a_t[t], b_t[t + o])
            a_t[t].mul_(a_t[t + o])
        carry = b.new_empty(n_chunks, n_lanes)  # state entering each chunk
        out_b, out_a, carry_c = b_t[out].unbind(0), a_t[out].unbind(0), carry.unbind(0)
        order = range(n_chunks - 1, -1, -1) if reverse else range(n_chunks)
        entry = order[0]
        if h0 is None:
            carry_c[entry].zero_()
        else:
            carry_c[entry].copy_(h0)
        for c in order[1:]:
            torch.addcmul(out_b[c + o], out_a[c + o], carry_c[c + o], out=carry_c[c])
        if h0 is None:  # the entry chunk needs no fix-up
            fix = slice(0, -1) if reverse else slice(1, None)
            bv[fix].addcmul_(av[fix], carry[fix, None, :])
        else:
            bv.addcmul_(av, carry[:, None, :])
    else:  # one chunk from a zero state: a plain in-place loop
        a_t, b_t = a[body].unbind(0), b[body].unbind(0)
        for t in range(chunk - 2, -1, -1) if reverse else range(1, chunk):
            b_t[t].addcmul_(a_t[t], b_t[t + o])
    if rest:  # the leftover (< T steps), continuing from the body's last state
        span = slice(0, rest + 1) if reverse else slice(main - 1, n_steps)
        a_t, b_t = a[span].unbind(0), b[span].unbind(0)
        for t in range(rest - 1, -1, -1) if reverse else range(1, rest + 1):
            b_t[t].addcmul_(a_t[t], b_t[t + o])
    return b[0] if reverse else b[-1]


def sequential_recurrence_(
    a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None, reverse: bool = False
) -> torch.Tensor:
    """Same result as :func:`linear_recurrence_`, one in-place op per step, ``a`` left untouched.

    Args:
        a: (L, M) decays (read only).
        b: (L, M) inputs; overwritten with the states h_t.
        h0: (M,) state before the first step taken, or None for zeros.
        reverse: run ``h_t = a_t ⊙ h_{t+1} + b_t`` from the last step down to the first.

    Returns:
        (M,) the last state taken (a view into ``b``).

    For a block of a few dozen steps over M ≈ 10⁴ lanes (what the scan hands it)
    this single pass beats the chunked engine's three passes: each step's op is
    large enough that the per-op cost is small beside the memory traffic.
    """
    a_t, b_t = a.unbind(0), b.unbind(0)
    steps = range(len(b_t) - 1, -1, -1) if reverse else range(len(b_t))
    prev = h0
    for t in steps:
        if prev is not None:
            b_t[t].addcmul_(a_t[t], prev)
        prev = b_t[t]
    return prev
