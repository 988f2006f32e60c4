"""Painting one synthetic slide and writing it as a pyramidal tiled JPEG TIFF.

Layout: a class map at 1/16 of level 0 (the tissue piece(s), tumour covering a
target fraction of the tissue, part of it high-grade when the slide has a
high-grade target, stroma / immune / necrosis / fat elsewhere) is
refined to 1/4 of level 0 through a smooth random displacement, which gives
organic borders (``class4``, (H/4, W/4) int8, values are
indices into :data:`~memamba_core.demo.textures.CLASSES`). Level 0 is painted
tile by tile from the periodic texture bank, with a per-slide stain jitter.

The TIFF: one page per level (level 0 first, then 2×, 4×, … downsampled by box
averaging), 256 × 256 JPEG tiles, resolution tags in pixels per centimetre so
OpenSlide (generic TIFF) and TiffSlide both report the mpp.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image
from scipy import ndimage

from ..paths import atomic_write_bytes
from .textures import HIGH_GRADE, TUMOUR, stain_lut

__all__ = ["SlideSpec", "make_layout", "paint_level0", "write_pyramid_tiff", "TILE"]

TILE = 256
_CELL = 16      # level-0 px per layout cell
_FINE = 4       # level-0 px per class4 cell


@dataclass(frozen=True)
class SlideSpec:
    """What to paint: size (level-0 px, multiples of 256), target tumour fraction of tissue, seed, and
    the target high-grade fraction of tissue (carved out of the tumour, at most 80 % of it; 0 = none)."""

    slide_id: str
    width: int
    height: int
    tumour_target: float
    seed: int
    mpp: float = 0.5
    high_grade_target: float = 0.0


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    f = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (f - f.mean()) / (f.std() + 1e-12)


def make_layout(spec: SlideSpec) -> np.ndarray:
    """``class4``: (H/4, W/4) int8 class map of the slide (see module doc)."""
    rng = np.random.default_rng([spec.seed, 1])
    h, w = spec.height // _CELL, spec.width // _CELL
    yy, xx = np.mgrid[0:h, 0:w]
    s = min(h, w)
    # tissue: one or two irregular pieces
    env = np.full((h, w), -np.inf)
    for _ in range(1 + int(rng.random() < 0.35)):
        cx, cy = rng.uniform(0.35, 0.65) * w, rng.uniform(0.35, 0.65) * h
        rx, ry = rng.uniform(0.42, 0.52) * w, rng.uniform(0.42, 0.52) * h
        if env.max() > -np.inf:  # second piece: smaller, off to one side
            cx, cy, rx, ry = rng.uniform(0.15, 0.85) * w, rng.uniform(0.2, 0.8) * h, rx * 0.45, ry * 0.45
        env = np.maximum(env, 1 - ((xx - cx) / rx) ** 2 - ((yy - cy) / ry) ** 2)
    tissue = env + 0.45 * _smooth_noise(rng, (h, w), s * 0.06) > -0.05
    tissue = ndimage.binary_opening(tissue, iterations=2)
    # tumour: the top `tumour_target` of a smooth field inside tissue
    label = np.zeros((h, w), np.int8)
    tf = _smooth_noise(rng, (h, w), s * 0.07) + 0.6 * env
    if tissue.any():
        thr = np.quantile(tf[tissue], 1 - spec.tumour_target)
        tumour = tissue & (tf > thr)
        # the rest: stroma, immune aggregates, necrosis (near tumour), fat (towards the edge)
        fields = np.stack([
            _smooth_noise(rng, (h, w), s * 0.05) + rng.uniform(0.3, 0.9),                       # stroma
            _smooth_noise(rng, (h, w), s * 0.025) * 1.3 - rng.uniform(0.6, 1.3),              # immune
            _smooth_noise(rng, (h, w), s * 0.03) + 1.2 * (tf - thr) - rng.uniform(0.2, 1.0),  # necrosis
            _smooth_noise(rng, (h, w), s * 0.05) - 1.5 * env - rng.uniform(-0.2, 0.6),         # fat
        ])
        other = np.argmax(fields, 0).astype(np.int8) + 2
        label = np.where(tumour, TUMOUR, np.where(tissue, other, 0)).astype(np.int8)
        # high grade: one or two compact foci inside the tumour (the top of a coarse field over tumour cells)
        n_hg = int(round(min(spec.high_grade_target * tissue.sum(), 0.8 * tumour.sum())))
        if n_hg > 0:
            hf = _smooth_noise(rng, (h, w), s * 0.1)[tumour]
            idx = np.flatnonzero(tumour.ravel())[np.argsort(-hf, kind="stable")[:n_hg]]
            label.ravel()[idx] = HIGH_GRADE
    # refine to 1/4 resolution: nearest upsampling through a smooth random displacement (organic borders)
    f = _CELL // _FINE
    H4, W4 = spec.height // _FINE, spec.width // _FINE
    dy = ndimage.zoom(_smooth_noise(rng, (h, w), 1.5).astype(np.float32), f, order=1, grid_mode=True, mode="nearest")
    dx = ndimage.zoom(_smooth_noise(rng, (h, w), 1.5).astype(np.float32), f, order=1, grid_mode=True, mode="nearest")
    jit = rng.integers(-1, 2, (2, H4, W4))
    yy4 = np.arange(H4)[:, None] + 3.0 * dy[:H4, :W4] + jit[0]
    xx4 = np.arange(W4)[None, :] + 3.0 * dx[:H4, :W4] + jit[1]
    iy = np.clip((yy4 // f).astype(np.int64), 0, h - 1)
    ix = np.clip((xx4 // f).astype(np.int64), 0, w - 1)
    return label[iy, ix]


def paint_level0(spec: SlideSpec, class4: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 level-0 RGB of the slide, painted from ``bank`` (C, T, T, 3) following ``class4``."""
    rng = np.random.default_rng([spec.seed, 2])
    C, T = bank.shape[0], bank.shape[1]
    offs = rng.integers(0, T, (C, 2))
    lut = stain_lut(rng)
    # the slide's bank: stain-jittered and extended by one tile so every tile is a plain slice
    jit = np.empty_like(bank)
    for ch in range(3):
        np.take(lut[ch], bank[..., ch], out=jit[..., ch])
    tex = np.pad(jit, ((0, 0), (0, TILE), (0, TILE), (0, 0)), mode="wrap")   # (C, T+TILE, T+TILE, 3)
    H, W = spec.height, spec.width
    img = np.empty((H, W, 3), np.uint8)
    k = TILE // _FINE
    for ty in range(0, H, TILE):
        for tx in range(0, W, TILE):
            block = class4[ty // _FINE: ty // _FINE + k, tx // _FINE: tx // _FINE + k]
            out = img[ty:ty + TILE, tx:tx + TILE]
            counts = np.bincount(block.ravel(), minlength=C)
            base = int(np.argmax(counts))
            oy, ox = (offs[base, 0] + ty) % T, (offs[base, 1] + tx) % T
            out[...] = tex[base, oy:oy + TILE, ox:ox + TILE]
            if counts[base] == block.size:
                continue
            cells = out.reshape(k, _FINE, k, _FINE, 3)  # 4 × 4-pixel cells of class4
            for c in np.flatnonzero(counts):
                if c == base:
                    continue
                oy, ox = (offs[c, 0] + ty) % T, (offs[c, 1] + tx) % T
                yy, xx = np.nonzero(block == c)
                cells[yy, :, xx] = tex[c, oy:oy + TILE, ox:ox + TILE].reshape(k, _FINE, k, _FINE, 3)[yy, :, xx]
    return img


def _halve(a: np.ndarray) -> np.ndarray:
    """2× box downsample of (H, W, 3) uint8 (H, W even)."""
    return np.asarray(Image.fromarray(a).reduce(2))


def write_pyramid_tiff(path: Path, level0: np.ndarray, mpp: float, min_levels: int = 3,
                       min_side: int = 512, quality: int = 85, description: str = "") -> list[tuple[int, int]]:
    """Write ``level0`` (H, W, 3) uint8 as a pyramidal tiled JPEG TIFF at ``path`` (atomically).

    Levels halve until the longest side would drop below ``min_side`` (at least ``min_levels``).
    Returns the (w, h) of each level.
    """
    levels = [level0]
    while len(levels) < min_levels or max(levels[-1].shape[:2]) // 2 >= min_side:
        a = levels[-1]
        if a.shape[0] % 2 or a.shape[1] % 2:
            a = a[: a.shape[0] // 2 * 2, : a.shape[1] // 2 * 2]
        levels.append(_halve(a))
    px_per_cm = 1e4 / mpp
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf, bigtiff=False) as tw:
        for i, a in enumerate(levels):
            ds = 2**i
            tw.write(
                a, photometric="rgb", tile=(TILE, TILE), compression="jpeg", compressionargs={"level": quality},
                resolution=(px_per_cm / ds, px_per_cm / ds), resolutionunit="CENTIMETER",
                subfiletype=1 if i else 0, description=description if i == 0 else None, metadata=None,
            )
    atomic_write_bytes(path, buf.getvalue())
    return [(a.shape[1], a.shape[0]) for a in levels]
