"""Reading patches from a slide at full resolution, and attention-ranked selections.

``slide`` is any object with ``read_region((x, y), level, (w, h)) -> PIL.Image``
(:func:`memamba_core.slides.open_slide`). Coordinates are level-0 (x, y).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["top_k", "read_patch", "read_patches", "thumbnail_scale"]


def top_k(scores, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores (N,), highest first; ties keep patch order."""
    s = np.asarray(scores, dtype=float).reshape(-1)
    k = max(0, min(int(k), s.size))
    return np.argsort(-s, kind="stable")[:k]


def read_patch(slide, xy, patch_size: int, level: int = 0) -> Image.Image:
    """One patch of ``patch_size`` level-0 pixels at level-0 top-left ``xy``, read at ``level``.

    At level 0 the patch is returned at full resolution (``patch_size`` px).
    """
    ds = float(slide.level_downsamples[level]) if level else 1.0
    side = max(1, int(round(patch_size / ds)))
    img = slide.read_region((int(xy[0]), int(xy[1])), level, (side, side))
    return img.convert("RGB")


def read_patches(slide, coords, indices, patch_size: int, level: int = 0) -> list[Image.Image]:
    """Patches ``indices`` of ``coords (N, 2)`` read with :func:`read_patch`, in the given order."""
    c = np.asarray(coords).reshape(-1, 2)
    return [read_patch(slide, c[i], patch_size, level) for i in np.asarray(indices, dtype=int)]


def thumbnail_scale(thumbnail: Image.Image, level0_size: tuple[int, int]) -> float:
    """Thumbnail px per level-0 px (mean of x and y, as thumbnails keep the aspect ratio)."""
    w0, h0 = level0_size
    w, h = thumbnail.size
    return 0.5 * (w / w0 + h / h0)
