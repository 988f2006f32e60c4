"""Selective scan (reference loop, fast pure PyTorch, fused C kernel on CPU, mamba-ssm CUDA) and the Mamba block."""

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
