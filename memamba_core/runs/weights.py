"""A fold's weights: ``fold_<k>/model.safetensors`` (safetensors only, never a pickle).

Integrity: :func:`write_weights` returns the sha256 of the bytes it wrote, which
the fold's meta record keeps (``weights_sha256``); :func:`read_weights` given
that hash refuses a file whose bytes differ (a flipped bit, a swapped file). A
meta record without the hash (runs of earlier versions) loads without the check.
Weights holding NaN or infinity are refused whatever the hash says.

This is the one module of :mod:`memamba_core.runs` that needs torch; the package
imports it only when one of its names is used.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from ..errors import InputError
from ..paths import atomic_write_bytes
from .layout import FoldPaths
from .records import META_FORMAT

__all__ = ["write_weights", "read_weights", "weights_digest"]


def weights_digest(data: bytes) -> str:
    """The content hash a fold meta records for its weights file: sha256 of the file bytes, hex."""
    return hashlib.sha256(data).hexdigest()


def write_weights(fold: FoldPaths, state: dict[str, torch.Tensor]) -> str:
    """Write a state dict (CPU, contiguous tensors) as the fold's weights file, atomically; returns its sha256."""
    data = st_save(state, metadata={"format": META_FORMAT})
    atomic_write_bytes(fold.weights, data)
    return weights_digest(data)


def read_weights(path: FoldPaths | str | Path, *, sha256: str | None = None) -> dict[str, torch.Tensor]:
    """The state dict of a fold (its :class:`FoldPaths`) or a weights file.

    InputError for a missing, corrupt or non-safetensors file (a torch pickle is named as such), for bytes
    that do not match ``sha256`` (the hash the fold meta records; None: not checked), and for weights
    holding NaN or infinity (named by tensor).
    """
    path = path.weights if isinstance(path, FoldPaths) else Path(path)
    if not path.is_file():
        raise InputError(f"{path}: missing; the checkpoint has no weights file.")
    data = path.read_bytes()
    try:
        state = st_load(data)
    except (SafetensorError, ValueError, RuntimeError, OSError) as err:
        hint = ""
        if data[:2] == b"PK" or data[:1] == b"\x80":
            hint = " It looks like a torch pickle (.pt); this project only loads safetensors."
        raise InputError(f"{path}: not a valid safetensors file ({err}).{hint} Retrain the fold or give the right file.") from err
    if sha256 is not None:
        digest = weights_digest(data)
        if digest != sha256:
            raise InputError(f"{path}: the weights file does not match the content hash its fold meta records "
                             f"(sha256 {digest[:16]}… vs recorded {sha256[:16]}…): it was changed or damaged after "
                             f"training. Restore the original file or retrain the fold.")
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise InputError(f"{path}: {len(bad)} weight tensor(s) hold NaN or infinite values ({', '.join(sorted(bad)[:3])}"
                         f"{' …' if len(bad) > 3 else ''}); the training diverged or the file is damaged — this checkpoint "
                         f"cannot predict. Retrain the fold (e.g. with a lower learning rate).")
    return state
