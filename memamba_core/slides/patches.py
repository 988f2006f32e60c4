"""Reading patches: one at a time (:func:`read_patch`, what viewers show) or a grid in batches (extraction).

A patch is the square of ``size0`` level-0 pixels whose top-left corner is level-0
``(x, y)``; read at ``level`` it is ``round(size0 / level_downsamples[level])`` pixels
wide, optionally resized to ``out_size``. Level 0 is full resolution.

:func:`iter_patch_batches` reads horizontally adjacent patches of a grid row with one
``read_region`` call (a strip of up to ``max_run`` patches) and then cuts them apart,
which costs far less than one call per patch on tiled JPEG slides; batches keep the
grid's order, so batch rows line up with ``grid.coords``. Its patches equal
``read_patch(slide, grid.coords[i], grid.size0, level=grid.patch_level, out_size=grid.patch_size)``.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
from PIL import Image

from ..errors import InputError
from .reader import Slide
from .tiling import PatchGrid

__all__ = ["iter_patch_batches", "read_patch", "read_patches", "read_side"]


def read_side(slide: Slide, size0: float, level: int) -> int:
    """Side in level-``level`` pixels of a patch ``size0`` level-0 pixels wide (at least 1)."""
    if not 0 <= level < slide.level_count:
        raise InputError(f"{slide.path}: level {level} does not exist; this slide has levels 0..{slide.level_count - 1}.")
    return max(1, int(round(float(size0) / float(slide.level_downsamples[level]))))


def read_patch(slide: Slide, xy, size0: float, *, level: int = 0, out_size: int | None = None) -> Image.Image:
    """The patch at level-0 top-left ``xy`` = (x, y) with side ``size0`` level-0 px, read at ``level``.

    Returns an RGB image of ``read_side(slide, size0, level)`` px (full resolution at level 0),
    or ``out_size`` px when given (bilinear). Parts outside the slide are white.
    Raises :class:`InputError` naming the slide when it cannot be read.
    """
    side = read_side(slide, size0, level)
    a = slide.read_array((int(xy[0]), int(xy[1])), level, (side, side))
    return Image.fromarray(_resize(a, out_size) if out_size else a, mode="RGB")


def read_patches(slide: Slide, coords, indices, size0: float, *, level: int = 0, out_size: int | None = None) -> list[Image.Image]:
    """Patches ``indices`` of ``coords`` (N, 2) level-0 (x, y), each read with :func:`read_patch`, in the given order."""
    c = np.asarray(coords).reshape(-1, 2)
    return [read_patch(slide, c[i], size0, level=level, out_size=out_size) for i in np.asarray(indices, dtype=int).reshape(-1)]


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
