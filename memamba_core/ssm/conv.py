"""Causal depthwise 1-D convolution of the Mamba block, in (B, L, E) layout.

Glossary: B batch, L length, E channels, K_conv kernel width.

``causal_conv1d_torch`` equals ``F.conv1d(x, w, b, padding=K_conv-1, groups=E)[..., :L]``
(what ``mamba_ssm`` runs without ``causal-conv1d``) with the same ``(E, 1, K_conv)``
weight, but works on channels-last (B, L, E) tensors with K_conv shifted
multiply-adds, so the block never transposes its activations on CPU.
"""

from __future__ import annotations

import torch

__all__ = ["causal_conv1d_torch"]


def causal_conv1d_torch(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """y[:, t] = bias + Σ_k weight[:, 0, k] · x[:, t - (K_conv - 1) + k] (zero before t = 0).

    Args:
        x: (B, L, E) input.
        weight: (E, 1, K_conv) depthwise kernel (``nn.Conv1d`` layout).
        bias: (E,) or None.

    Returns:
        (B, L, E).
    """
    width = weight.shape[-1]
    w = weight[:, 0, :]  # (E, K_conv)
    out = x * w[:, width - 1]
    if bias is not None:
        out = out + bias
    length = x.shape[1]
    for k in range(width - 1):
        shift = width - 1 - k
        if shift < length:
            out[:, shift:] += x[:, : length - shift] * w[:, k]
    return out
