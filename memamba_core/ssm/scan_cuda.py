"""The ``mamba-ssm`` CUDA kernels, when installed: availability checked once, at import.

``mamba_ssm`` and ``causal_conv1d`` are optional (requirements-cuda.txt). They
are imported inside ``try/except ImportError`` here and nowhere else; the rest
of the project asks :data:`HAS_MAMBA_SSM` / :data:`HAS_CAUSAL_CONV1D` and uses
the kernels only for CUDA tensors.
"""

from __future__ import annotations

import functools

import torch

KERNEL_IMPORT_ERRORS: dict[str, str] = {}  # package → why it did not import ("memamba doctor" prints it)

try:  # optional CUDA kernels
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn as _selective_scan_fn
except ImportError as _err:  # pragma: no cover - depends on the machine
    _selective_scan_fn = None
    KERNEL_IMPORT_ERRORS["mamba_ssm"] = f"{type(_err).__name__}: {_err}"

try:  # optional CUDA kernels
    from causal_conv1d import causal_conv1d_fn as _causal_conv1d_fn
except ImportError as _err:  # pragma: no cover - depends on the machine
    _causal_conv1d_fn = None
    KERNEL_IMPORT_ERRORS["causal_conv1d"] = f"{type(_err).__name__}: {_err}"

__all__ = ["HAS_MAMBA_SSM", "HAS_CAUSAL_CONV1D", "KERNEL_IMPORT_ERRORS", "selective_scan_cuda", "causal_conv1d_cuda"]

HAS_MAMBA_SSM: bool = _selective_scan_fn is not None
HAS_CAUSAL_CONV1D: bool = _causal_conv1d_fn is not None


def selective_scan_cuda(
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
    """``mamba_ssm.selective_scan_fn`` (same arguments and shapes as the reference).

    Args: u, delta, z: (B, E, L); A: (E, S); B, C: (B, S, L); D, delta_bias: (E,).
    Returns: y (B, E, L), in the streams' common dtype.

    The kernel takes the streams (u, Δ, B, C, z) in one dtype (float32, bf16 or fp16) and
    A, D, Δ bias in float32: mixed streams (e.g. an fp32 conv output beside bf16 projections
    under autocast) are promoted to their common dtype first.

    Raises:
        RuntimeError: when ``mamba_ssm`` is not installed or a tensor is not on CUDA.
    """
    if _selective_scan_fn is None:
        raise RuntimeError("mamba_ssm is not installed: install requirements-cuda.txt on a CUDA machine.")
    if not u.is_cuda:
        raise RuntimeError("the mamba_ssm kernel needs CUDA tensors; use backend='torch' on CPU.")
    streams = [u, delta, B, C] + ([] if z is None else [z])
    common = functools.reduce(torch.promote_types, (t.dtype for t in streams))  # the kernel wants one stream dtype

    def prep(t: torch.Tensor) -> torch.Tensor:
        return t.to(common).contiguous()

    return _selective_scan_fn(
        prep(u),
        prep(delta),
        A.float().contiguous(),
        prep(B),
        prep(C),
        D=None if D is None else D.float(),
        z=None if z is None else prep(z),
        delta_bias=None if delta_bias is None else delta_bias.float(),
        delta_softplus=delta_softplus,
    )


def causal_conv1d_cuda(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, activation: str | None
) -> torch.Tensor:
    """``causal_conv1d_fn``: depthwise causal conv. x: (B, E, L); weight: (E, K_conv) → (B, E, L)."""
    if _causal_conv1d_fn is None:
        raise RuntimeError("causal_conv1d is not installed.")
    return _causal_conv1d_fn(x=x, weight=weight, bias=bias, activation=activation)
