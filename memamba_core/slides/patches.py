"""Reading the patches of a :class:`~memamba_core.slides.tiling.PatchGrid` in batches.

Horizontally adjacent patches of a grid row are read with one ``read_region``
call (a strip of up to ``max_run`` patches) and then cut apart, which costs far
less than one call per patch on tiled JPEG slides. Batches keep the grid's
order, so batch rows line up with ``grid.coords``.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
from PIL import Image

from .reader import Slide
from .tiling import PatchGrid

__all__ = ["iter_patch_batches", "read_patch"]


def read_patch(slide: Slide, grid: PatchGrid, i: int) -> np.ndarray:
    """Patch ``i`` of ``grid``: (patch_size, patch_size, 3) uint8 RGB."""
    x, y = grid.coords[i]
    a = slide.read_array((int(x), int(y)), grid.patch_level, (grid.read_size, grid.read_size))
    return _resize(a, grid.patch_size)


def _resize(a: np.ndarray, size: int) -> np.ndarray:
    if a.shape[0] == size and a.shape[1] == size:
        return a
    return np.asarray(Image.fromarray(a).resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None))


def _runs(coords: np.ndarray, size0: int, max_run: int) -> list[tuple[int, int]]:
    """(start, stop) index ranges of consecutive same-row, adjacent patches (coords row-major)."""
    runs, n = [], len(coords)
    i = 0
    while i < n:
        j = i + 1
        while (
            j < n and j - i < max_run and coords[j, 1] == coords[i, 1]
            and coords[j, 0] == coords[j - 1, 0] + size0
        ):
            j += 1
        runs.append((i, j))
        i = j
    return runs


def iter_patch_batches(
    slide: Slide, grid: PatchGrid, batch_size: int = 64, max_run: int = 16
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(indices (B,), patches (B, P, P, 3) uint8)`` over the grid in order; P = ``grid.patch_size``."""
    P, rs, lvl = grid.patch_size, grid.read_size, grid.patch_level
    buf = np.empty((batch_size, P, P, 3), np.uint8)
    idx: list[int] = []
    for a, b in _runs(grid.coords, grid.size0, max_run):
        x, y = grid.coords[a]
        strip = slide.read_array((int(x), int(y)), lvl, (rs * (b - a), rs))
        for k in range(b - a):
            buf[len(idx)] = _resize(strip[:, k * rs:(k + 1) * rs], P)
            idx.append(a + k)
            if len(idx) == batch_size:
                yield np.asarray(idx, np.int64), buf.copy()
                idx = []
    if idx:
        yield np.asarray(idx, np.int64), buf[: len(idx)].copy()
