"""The selective-scan backend names (import-light: no torch), owned by :mod:`memamba_core.ssm`.

``auto`` picks per device (:func:`memamba_core.ssm.resolve_backend`); the others name one implementation.
"""

__all__ = ["BACKENDS"]

BACKENDS = ("auto", "reference", "torch", "cpu", "cuda")
