"""A fold's weights: ``fold_<k>/model.safetensors`` (safetensors only, never a pickle).

This is the one module of :mod:`memamba_core.runs` that needs torch; the package
imports it only when one of its names is used.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from ..errors import InputError
from ..paths import atomic_write_bytes
from .layout import FoldPaths
from .records import META_FORMAT

__all__ = ["write_weights", "read_weights"]


def write_weights(fold: FoldPaths, state: dict[str, torch.Tensor]) -> None:
    """Write a state dict (CPU, contiguous tensors) as the fold's weights file, atomically."""
    atomic_write_bytes(fold.weights, st_save(state, metadata={"format": META_FORMAT}))


def read_weights(path: FoldPaths | str | Path) -> dict[str, torch.Tensor]:
    """The state dict of a fold (its :class:`FoldPaths`) or a weights file.

    InputError for a missing, corrupt or non-safetensors file (a torch pickle is named as such).
    """
    path = path.weights if isinstance(path, FoldPaths) else Path(path)
    if not path.is_file():
        raise InputError(f"{path}: missing; the checkpoint has no weights file.")
    data = path.read_bytes()
    try:
        return st_load(data)
    except (SafetensorError, ValueError, RuntimeError, OSError) as err:
        hint = ""
        if data[:2] == b"PK" or data[:1] == b"\x80":
            hint = " It looks like a torch pickle (.pt); this project only loads safetensors."
        raise InputError(f"{path}: not a valid safetensors file ({err}).{hint} Retrain the fold or give the right file.") from err
