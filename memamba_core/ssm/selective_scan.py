"""One selective-scan entry point, three implementations; the backend is chosen here.

Backends (all with the ``mamba_ssm`` signature and layout):

- ``"reference"``: :func:`.scan_ref.selective_scan_ref`, the sequential oracle;
- ``"torch"``: :func:`.scan_torch.selective_scan_torch`, chunked pure PyTorch,
  any device, the CPU default;
- ``"cuda"``: ``mamba_ssm``'s ``selective_scan_fn`` (:mod:`.scan_cuda`).

``"auto"`` picks ``"cuda"`` when ``mamba_ssm`` imported (checked once, at
import) and the tensors are on CUDA, else ``"torch"``. Glossary: B batch,
E inner width, S state size, L length.
"""

from __future__ import annotations

import torch

from ..errors import InputError
from .scan_cuda import HAS_MAMBA_SSM, selective_scan_cuda
from .scan_ref import selective_scan_ref
from .scan_torch import selective_scan_torch

__all__ = ["BACKENDS", "selective_scan", "resolve_backend", "active_backend", "available_backends"]

BACKENDS = ("auto", "reference", "torch", "cuda")

_IMPLEMENTATIONS = {
    "reference": selective_scan_ref,
    "torch": selective_scan_torch,
    "cuda": selective_scan_cuda,
}


def available_backends() -> tuple[str, ...]:
    """Backends usable on this machine (``"cuda"`` only with mamba_ssm and a GPU)."""
    usable = ["reference", "torch"]
    if HAS_MAMBA_SSM and torch.cuda.is_available():
        usable.append("cuda")
    return tuple(usable)


def resolve_backend(backend: str, device: torch.device | str) -> str:
    """The concrete backend (``reference`` | ``torch`` | ``cuda``) for tensors on ``device``.

    Raises:
        InputError: unknown name, or ``"cuda"`` asked for where it cannot run.
    """
    if backend not in BACKENDS:
        raise InputError(f"Unknown scan backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
    on_cuda = torch.device(device).type == "cuda"
    if backend == "auto":
        return "cuda" if (HAS_MAMBA_SSM and on_cuda) else "torch"
    if backend == "cuda" and not (HAS_MAMBA_SSM and on_cuda):
        why = "mamba_ssm is not installed" if not HAS_MAMBA_SSM else "the tensors are not on a CUDA device"
        raise InputError(
            f"Scan backend 'cuda' cannot run here: {why}. Use backend='auto' or 'torch', "
            "or install requirements-cuda.txt on a CUDA machine."
        )
    return backend


def active_backend(device: torch.device | str = "cpu", backend: str = "auto") -> str:
    """Human-readable backend in use on ``device``, e.g. ``"torch (pure PyTorch, cpu)"``."""
    name = resolve_backend(backend, device)
    label = {
        "reference": "reference (sequential loop)",
        "torch": "torch (pure PyTorch, chunked)",
        "cuda": "cuda (mamba-ssm kernels)",
    }[name]
    return f"{label} on {torch.device(device).type}"


def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    backend: str = "auto",
) -> torch.Tensor:
    """Selective scan (Mamba's S6) with the ``mamba_ssm.selective_scan_fn`` signature.

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
        backend: ``auto`` | ``reference`` | ``torch`` | ``cuda``.

    Returns:
        y: (B, E, L).

    Example:
        >>> u = torch.randn(1, 8, 5); A = -torch.rand(8, 4)
        >>> Bm, Cm = torch.randn(1, 4, 5), torch.randn(1, 4, 5)
        >>> selective_scan(u, torch.rand(1, 8, 5), A, Bm, Cm).shape
        torch.Size([1, 8, 5])
    """
    impl = _IMPLEMENTATIONS[resolve_backend(backend, u.device)]
    return impl(u, delta, A, B, C, D=D, z=z, delta_bias=delta_bias, delta_softplus=delta_softplus)
