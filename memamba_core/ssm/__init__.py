"""Selective scan (reference loop, fast pure PyTorch, fused C kernel on CPU, mamba-ssm CUDA) and the Mamba block.

``BACKENDS`` (``auto``, ``reference``, ``torch``, ``cpu``, ``cuda``) is owned here; ``ModelConfig.backend``, the
model registry (``memamba_core.models.registry.backend_choices``) and the command line read it. On CPU ``auto``
runs the fused C kernel (compiled at first use) and falls back to the pure-PyTorch scan when it cannot.
"""

from .mamba import Mamba
from .scan_cpu import selective_scan_cpu
from .scan_cuda import HAS_CAUSAL_CONV1D, HAS_MAMBA_SSM, selective_scan_cuda
from .scan_ref import selective_scan_ref
from .scan_torch import selective_scan_torch
from .selective_scan import BACKENDS, active_backend, available_backends, resolve_backend, selective_scan

__all__ = [
    "BACKENDS",
    "HAS_CAUSAL_CONV1D",
    "HAS_MAMBA_SSM",
    "Mamba",
    "active_backend",
    "available_backends",
    "resolve_backend",
    "selective_scan",
    "selective_scan_cpu",
    "selective_scan_cuda",
    "selective_scan_ref",
    "selective_scan_torch",
]
