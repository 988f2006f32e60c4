"""The Mamba block's causal depthwise conv + SiLU by the fused C kernel, piece by piece (inference).

Glossary: P rows of a piece, E channels, K_conv kernel width, E8 = E rounded up to 8.

:func:`conv_silu_stream_` computes ``silu(causal_conv1d(x))`` for one piece of
rows, taking the K_conv - 1 input rows before the piece from ``carry`` and
leaving the piece's last K_conv - 1 input rows there, so a sequence run piece by
piece gives the whole-sequence result (what :func:`.conv.causal_conv1d_torch`
then SiLU give, the terms added in the same order). One pass over the piece
instead of K_conv + 2 tensor ops; channels split over threads as the scan's.
The kernel is ``ss_conv_silu`` in ``csrc/selective_scan_cpu.c``.
"""

from __future__ import annotations

import ctypes

import torch

from .cpu_kernel import ConvArgs, require_kernel
from .scan_cpu import launch, per_thread

__all__ = ["conv_silu_stream_", "MAX_CONV_WIDTH"]

MAX_CONV_WIDTH = 8  # CONV_MAX_WIDTH in the C source
_LANES = 8


def _f32p(t: torch.Tensor | None):
    return ctypes.POINTER(ctypes.c_float)() if t is None else ctypes.cast(t.data_ptr(), ctypes.POINTER(ctypes.c_float))


def conv_silu_stream_(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, carry: torch.Tensor, out: torch.Tensor
) -> torch.Tensor:
    """out = silu(causal depthwise conv of x), continuing from ``carry``; ``carry`` updated in place.

    Args (float32, CPU, unit stride along channels; rows may be strided, e.g. a column slice):
        x: (P, E) input rows of this piece.
        weight: (E, K_conv) depthwise kernel (``conv1d.weight[:, 0, :]``), K_conv ≤ :data:`MAX_CONV_WIDTH`.
        bias: (E,) or None.
        carry: (K_conv - 1, E) contiguous: the input rows before this piece (zeros at the start).
        out: (P, E) output buffer.

    Returns:
        ``out``.
    """
    n_rows, n_inner = x.shape
    width = weight.shape[1]
    e8 = -(-n_inner // _LANES) * _LANES
    w = weight.new_zeros(width, e8, dtype=torch.float32)
    w[:, :n_inner] = weight.detach().t()
    b = None
    if bias is not None:
        b = bias.new_zeros(e8, dtype=torch.float32)
        b[:n_inner] = bias.detach()
    base = ConvArgs(n=n_rows, E=n_inner, K=width, x=_f32p(x), x_t=x.stride(0), carry=_f32p(carry), w=_f32p(w))
    base.bias, base.out, base.out_t = _f32p(b), _f32p(out), out.stride(0)
    launch(require_kernel().ss_conv_silu, per_thread(base, n_inner))
    return out
