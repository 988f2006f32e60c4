"""Streaming no-grad forward of the Mamba block, for inference on long bags (CPU and pure PyTorch).

Glossary: L tokens, d model width, E inner width, S state size, R dt rank,
K_conv conv width, P rows per piece.

:func:`mamba_stream_` computes exactly the block's forward (same weights, same
operations: in_proj, causal depthwise conv + SiLU, x_proj, dt_proj, selective
scan with D and the SiLU(z) gate, out_proj), but walks the sequence in pieces of
P tokens carrying the conv's last K_conv - 1 inputs and the (E, S) scan state
from piece to piece. Every intermediate lives in a (P, ·) buffer reused by every
piece, so memory is O(P·E) instead of O(L·E), nothing large is allocated (no
fresh pages to fault in), and the pieces stay in cache between the matmuls and
the scan. The scan order is given by ``order``: the tokens in place (the
forward branch), reversed (the reverse branch), or permuted (the ranked
branch); each piece's output rows are *added* into ``out`` at the rows they
came from, so a layer's branches sum into one buffer with no flip, gather or
scatter of whole (L, ·) tensors.

The scan of each piece is the fused C kernel (:func:`.scan_cpu.scan_time_major`)
when the block's backend resolves to ``"cpu"``, else the pure-PyTorch
:func:`.scan_torch._scan_blocks`; both take the pieces' strided row slices in
place and carry the state h, (S, E) lanes, from piece to piece. On ``"cpu"``
with float32 tokens the conv + SiLU is one kernel pass too
(:func:`.conv_cpu.conv_silu_stream_`). Used only
without autograd and on those two backends (:data:`STREAMED_BACKENDS`; the CUDA
kernels and the reference keep the block's own forward).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .conv_cpu import MAX_CONV_WIDTH, conv_silu_stream_
from .scan_cpu import scan_time_major
from .scan_torch import _scan_blocks
from .selective_scan import resolve_backend

__all__ = ["mamba_stream_", "PIECE_ROWS", "STREAMED_BACKENDS"]

PIECE_ROWS = 1024  # P: tokens per piece (a few MiB of buffers at E = 512)
STREAMED_BACKENDS = ("torch", "cpu")  # scan backends mamba_stream_ runs on


def _rows(src: torch.Tensor, order, p0: int, p1: int) -> torch.Tensor:
    """Rows of scan positions [p0, p1) of ``src`` (L, d), in scan order."""
    if order is None:
        return src[p0:p1]
    if isinstance(order, str):  # "reverse"
        n = src.shape[0]
        return src[n - p1 : n - p0].flip(0)
    return src.index_select(0, order[p0:p1])


def _add_rows_(out: torch.Tensor, rows: torch.Tensor, order, p0: int, p1: int) -> None:
    """out[rows of scan positions p0 … p1-1] += rows (P, d)."""
    if order is None:
        out[p0:p1] += rows
    elif isinstance(order, str):
        n = out.shape[0]
        out[n - p1 : n - p0] += rows.flip(0)
    else:
        out.index_add_(0, order[p0:p1], rows)


@torch.no_grad()
def mamba_stream_(
    block, src: torch.Tensor, out: torch.Tensor, order: torch.Tensor | str | None = None, rows: int | None = None,
    scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """``out[order] += block((src * scale[:, None])[order][None])[0]``, streamed (see module docstring).

    Args:
        block: a :class:`~memamba_core.ssm.mamba.Mamba`.
        src: (L, d) tokens in their original order.
        out: (L, d) accumulator, same dtype/device as ``src``; updated in place.
        order: None (scan src as is), ``"reverse"`` (scan it back to front), or an (L,)
            permutation (scan src[order]).
        rows: P, tokens per piece (default :data:`PIECE_ROWS`).
        scale: (L,) per-token factor applied to each piece's rows (the ranked branch's gate),
            so no scaled (L, d) copy of ``src`` is made; None = 1.

    Returns:
        ``out``.
    """
    n_tokens, _ = src.shape
    n_inner, n_state, rank, width = block.d_inner, block.d_state, block.dt_rank, block.d_conv
    work = torch.promote_types(src.dtype, torch.float32)
    on_kernel = resolve_backend(block.backend, src.device, work) == "cpu"
    scan = scan_time_major if on_kernel else _scan_blocks
    fused_conv = on_kernel and src.dtype == torch.float32 and width <= MAX_CONV_WIDTH
    w_in, w_x, w_dt, w_out = (m.weight.t() for m in (block.in_proj, block.x_proj, block.dt_proj, block.out_proj))
    b_in, b_out = block.in_proj.bias, block.out_proj.bias
    conv_w = block.conv1d.weight[:, 0, :]  # (E, K_conv)
    conv_b = block.conv1d.bias
    # as the block: A, D and the Δ bias in float32 (then promoted), whatever the weights' dtype
    A = (-torch.exp(block.A_log.float())).to(work)  # (E, S)
    D, dt_bias = block.D.float().to(work), block.dt_proj.bias.float().to(work)
    piece = max(1, min(rows or PIECE_ROWS, n_tokens))
    xz = src.new_empty(piece, 2 * n_inner)
    conv_in = src.new_zeros(width - 1 + piece, n_inner)  # last K_conv - 1 inputs of the previous piece, then this one
    xc = src.new_empty(piece, n_inner)
    x_dbl = src.new_empty(piece, rank + 2 * n_state)
    dt = src.new_empty(piece, n_inner)
    y = src.new_empty(piece, 1, n_inner, dtype=work)
    res = src.new_empty(piece, out.shape[1])
    h = src.new_zeros(n_inner * n_state, dtype=work)  # scan state (S, E) carried across pieces
    for p0 in range(0, n_tokens, piece):
        p1 = min(p0 + piece, n_tokens)
        n = p1 - p0
        part = _rows(src, order, p0, p1)  # (n, d)
        if scale is not None:
            part = part * _rows(scale[:, None], order, p0, p1)
        if b_in is None:
            xzp = torch.mm(part, w_in, out=xz[:n])
        else:
            xzp = torch.addmm(b_in, part, w_in, out=xz[:n])
        # causal depthwise conv + SiLU, the terms in the order of conv.causal_conv1d_torch
        if fused_conv:  # conv_in[: K_conv - 1] is the carry
            xcp = conv_silu_stream_(xzp[:, :n_inner], conv_w, conv_b, conv_in[: width - 1], out=xc[:n])
        else:
            conv_in[width - 1 : width - 1 + n].copy_(xzp[:, :n_inner])
            xcp = torch.mul(conv_in[width - 1 : width - 1 + n], conv_w[:, width - 1], out=xc[:n])
            if conv_b is not None:
                xcp += conv_b
            for k in range(width - 1):
                xcp.addcmul_(conv_in[k : k + n], conv_w[:, k])
            conv_in[: width - 1] = conv_in[n : n + width - 1].clone()  # carry the last K_conv - 1 inputs
            F.silu(xcp, inplace=True)
        xd = torch.mm(xcp, w_x, out=x_dbl[:n])  # (n, R + 2S)
        dtp = torch.mm(xd[:, :rank], w_dt, out=dt[:n])  # (n, E); the bias goes in the scan
        yp = scan(
            xcp.to(work)[:, None],
            dtp.to(work)[:, None],
            A,
            xd[:, None, rank : rank + n_state].to(work),
            xd[:, None, rank + n_state :].to(work),
            delta_bias=dt_bias,
            delta_softplus=True,
            D=D,
            z=xzp[:, None, n_inner:].to(work),
            h=h,
            out=y[:n],
        )[:, 0].to(src.dtype)  # (n, E)
        if b_out is None:
            r = torch.mm(yp, w_out, out=res[:n])
        else:
            r = torch.addmm(b_out, yp, w_out, out=res[:n])
        _add_rows_(out, r, order, p0, p1)
    return out
