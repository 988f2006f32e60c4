"""Selective scan (reference loop, fast pure PyTorch, fused C kernel on CPU, mamba-ssm CUDA) and the Mamba block.

``BACKENDS`` (``auto``, ``reference``, ``torch``, ``cpu``, ``cuda``) is owned here; ``ModelConfig.backend``, the
model registry (``memamba_core.models.registry.backend_choices``) and the command line read it. On CPU ``auto``
runs the fused C kernel (compiled at first use) and falls back to the pure-PyTorch scan when it cannot.

``BACKENDS`` imports nothing heavy; every other name here is imported (with torch) on first use.
"""

import sys
import types

from .._lazy import lazy_getattr
from .backends import BACKENDS

_LAZY = {
    "mamba": ("Mamba",),
    "scan_cpu": ("selective_scan_cpu",),
    "scan_cuda": ("HAS_CAUSAL_CONV1D", "HAS_MAMBA_SSM", "selective_scan_cuda"),
    "scan_ref": ("selective_scan_ref",),
    "scan_torch": ("selective_scan_torch",),
    "selective_scan": ("active_backend", "available_backends", "resolve_backend", "selective_scan"),
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}

__all__ = sorted(["BACKENDS", *_WHERE])

__getattr__ = lazy_getattr(__name__, _WHERE)


class _Package(types.ModuleType):
    """``memamba_core.ssm.selective_scan`` is the function, also once its submodule of the same name has
    loaded (the import system binds a loaded submodule onto its package: this binds the function instead)."""

    def __setattr__(self, name: str, value) -> None:
        if name == "selective_scan" and isinstance(value, types.ModuleType):
            value = value.selective_scan
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __dir__():
    return __all__
