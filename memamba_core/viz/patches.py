"""Attention-ranked patch selections, and the slide-view helpers the figure builders pair with.

``read_patch`` / ``read_patches`` (:mod:`memamba_core.slides.patches`) and
``thumbnail_scale`` (:mod:`memamba_core.slides.view`) are re-exported here, not copied:
the slide view owns them. Coordinates are level-0 (x, y).
"""

from __future__ import annotations

import numpy as np

from ..slides.patches import read_patch, read_patches
from ..slides.view import thumbnail_scale

__all__ = ["top_k", "read_patch", "read_patches", "thumbnail_scale"]


def top_k(scores, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores (N,), highest first; ties keep patch order."""
    s = np.asarray(scores, dtype=float).reshape(-1)
    k = max(0, min(int(k), s.size))
    return np.argsort(-s, kind="stable")[:k]
