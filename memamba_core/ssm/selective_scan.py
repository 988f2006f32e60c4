"""One selective-scan entry point, four implementations; the backend is chosen here.

Backends (all with the ``mamba_ssm`` signature and layout):

- ``"reference"``: :func:`.scan_ref.selective_scan_ref`, the sequential oracle;
- ``"torch"``: :func:`.scan_torch.selective_scan_torch`, chunked pure PyTorch,
  any device and dtype, the fallback everywhere;
- ``"cpu"``: :func:`.scan_cpu.selective_scan_cpu`, the fused C kernel, compiled
  at first use (:mod:`.cpu_kernel`), for CPU tensors in float32 (bf16 / fp16
  computed in float32);
- ``"cuda"``: ``mamba_ssm``'s ``selective_scan_fn`` (:mod:`.scan_cuda`).

``"auto"`` picks ``"cuda"`` when ``mamba_ssm`` imported (checked once, at
import) and the tensors are on CUDA; on CPU ``"cpu"`` when the kernel built
and loaded (``MEMAMBA_CPU_KERNEL=0`` switches it off) and the dtype is not
float64; else ``"torch"``. :func:`active_backend` says which one runs and, when
the kernel does not, why. Glossary: B batch, E inner width, S state size, L length.
"""

from __future__ import annotations

import torch

from ..errors import InputError
from .backends import BACKENDS
from .cpu_kernel import kernel, unavailable_reason
from .scan_cpu import SUPPORTED_DTYPES, selective_scan_cpu
from .scan_cuda import HAS_MAMBA_SSM, selective_scan_cuda
from .scan_ref import selective_scan_ref
from .scan_torch import selective_scan_torch

__all__ = ["BACKENDS", "selective_scan", "resolve_backend", "active_backend", "available_backends"]

_IMPLEMENTATIONS = {
    "reference": selective_scan_ref,
    "torch": selective_scan_torch,
    "cpu": selective_scan_cpu,
    "cuda": selective_scan_cuda,
}

_LABELS = {
    "reference": "reference (sequential loop)",
    "torch": "torch (pure PyTorch, chunked)",
    "cpu": "cpu (fused C kernel, compiled at first use)",
    "cuda": "cuda (mamba-ssm kernels)",
}


def available_backends() -> tuple[str, ...]:
    """Backends usable on this machine (``"cpu"`` once the kernel built and loaded; ``"cuda"``
    only with mamba_ssm and a GPU). The first call may compile the CPU kernel."""
    usable = ["reference", "torch"]
    if kernel() is not None:
        usable.append("cpu")
    if HAS_MAMBA_SSM and torch.cuda.is_available():
        usable.append("cuda")
    return tuple(usable)


def _cpu_kernel_blocker(dtype: torch.dtype | None) -> str | None:
    """Why the fused CPU kernel cannot run tensors of ``dtype`` here (None: it can)."""
    if dtype is not None and dtype not in SUPPORTED_DTYPES:
        return f"it computes in float32 and the tensors are {str(dtype).replace('torch.', '')}"
    return unavailable_reason()


def resolve_backend(backend: str, device: torch.device | str, dtype: torch.dtype | None = None) -> str:
    """The concrete backend (``reference`` | ``torch`` | ``cpu`` | ``cuda``) for tensors on ``device``.

    Args:
        backend: a name from :data:`BACKENDS`.
        device: where the tensors are.
        dtype: their dtype, when known (float64 does not go to the fused CPU kernel).

    Raises:
        InputError: unknown name, or ``"cuda"`` / ``"cpu"`` asked for where it cannot run.
    """
    if backend not in BACKENDS:
        raise InputError(f"Unknown scan backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
    kind = torch.device(device).type
    if backend == "auto":
        if HAS_MAMBA_SSM and kind == "cuda":
            return "cuda"
        if kind == "cpu" and _cpu_kernel_blocker(dtype) is None:
            return "cpu"
        return "torch"
    if backend == "cuda" and not (HAS_MAMBA_SSM and kind == "cuda"):
        why = "mamba_ssm is not installed" if not HAS_MAMBA_SSM else "the tensors are not on a CUDA device"
        raise InputError(
            f"Scan backend 'cuda' cannot run here: {why}. Use backend='auto' or 'torch', "
            "or install requirements-cuda.txt on a CUDA machine."
        )
    if backend == "cpu":
        why = f"the tensors are on {kind}" if kind != "cpu" else _cpu_kernel_blocker(dtype)
        if why is not None:
            raise InputError(f"Scan backend 'cpu' cannot run here: {why}. Use backend='auto' or 'torch'.")
    return backend


def active_backend(device: torch.device | str = "cpu", backend: str = "auto", dtype: torch.dtype | None = None) -> str:
    """Human-readable backend in use on ``device``, e.g. ``"cpu (fused C kernel, compiled at first use) on cpu"``;
    when ``auto`` falls back to the pure-PyTorch scan on CPU, the reason the fused kernel is not used follows."""
    name = resolve_backend(backend, device, dtype)
    text = f"{_LABELS[name]} on {torch.device(device).type}"
    if name == "torch" and backend == "auto" and torch.device(device).type == "cpu":
        text += f" (fused CPU kernel not used: {_cpu_kernel_blocker(dtype)})"
    return text


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
        backend: ``auto`` | ``reference`` | ``torch`` | ``cpu`` | ``cuda``.

    Returns:
        y: (B, E, L).

    Example:
        >>> u = torch.randn(1, 8, 5); A = -torch.rand(8, 4)
        >>> Bm, Cm = torch.randn(1, 4, 5), torch.randn(1, 4, 5)
        >>> selective_scan(u, torch.rand(1, 8, 5), A, Bm, Cm).shape
        torch.Size([1, 8, 5])
    """
    impl = _IMPLEMENTATIONS[resolve_backend(backend, u.device, u.dtype)]
    return impl(u, delta, A, B, C, D=D, z=z, delta_bias=delta_bias, delta_softplus=delta_softplus)
