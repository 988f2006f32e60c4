"""Tissue detection: Otsu threshold on saturation at a low-resolution level.

The mask is computed on a coarse level (about ``mask_mpp`` µm per mask pixel),
as CLAM does: RGB → HSV saturation, median blur, Otsu threshold (never below
``min_saturation``), morphological closing, small holes filled and small
objects removed. Mask pixel (i, j) covers level-0 pixels
``x ∈ [j·dx, (j+1)·dx)``, ``y ∈ [i·dy, (i+1)·dy)`` with ``(dx, dy) = TissueMask.downsample``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

from .reader import Slide

__all__ = ["TissueConfig", "TissueMask", "tissue_mask", "otsu_threshold", "mask_from_rgb"]


@dataclass(frozen=True)
class TissueConfig:
    """How tissue is told from background."""

    mask_mpp: float = 8.0          # target µm per mask pixel (coarser levels are cheaper; ~16× at 0.5 µm/px)
    max_mask_side: int = 4096      # never read a mask level with a longer side than this
    median_size: int = 5           # median blur of the saturation channel (odd, 1 = off)
    min_saturation: int = 15       # floor on the Otsu threshold (0-255), so a blank slide gives no tissue
    min_object_um2: float = 20000.0  # connected tissue pieces smaller than this (µm²) are dropped
    max_hole_um2: float = 5000.0     # holes inside tissue smaller than this (µm²) are filled
    default_mpp: float = 0.5       # µm per level-0 pixel assumed when the slide does not say


@dataclass
class TissueMask:
    """A boolean tissue mask of the whole slide at low resolution.

    ``mask``: (h, w) bool; ``downsample``: level-0 pixels per mask pixel (dx, dy);
    ``threshold``: the saturation threshold used (0-255); ``level``: the slide level it was read from.
    """

    mask: np.ndarray
    downsample: tuple[float, float]
    threshold: float
    level: int

    @property
    def fraction(self) -> float:
        """Fraction of the slide area that is tissue."""
        return float(self.mask.mean()) if self.mask.size else 0.0

    def tissue_fraction(self, coords: np.ndarray, size0: int) -> np.ndarray:
        """Tissue fraction of square boxes: ``coords`` (N, 2) level-0 (x, y) top-left, side ``size0`` level-0 px.

        Returns (N,) float in [0, 1]. Uses a summed-area table of the mask; partial mask pixels
        at a box border count by the whole pixel whose centre falls inside the box.
        """
        coords = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
        h, w = self.mask.shape
        sat = np.zeros((h + 1, w + 1), dtype=np.int64)
        sat[1:, 1:] = np.cumsum(np.cumsum(self.mask, axis=0, dtype=np.int64), axis=1)
        dx, dy = self.downsample
        x0 = np.clip(np.round(coords[:, 0] / dx).astype(np.int64), 0, w)
        y0 = np.clip(np.round(coords[:, 1] / dy).astype(np.int64), 0, h)
        x1 = np.clip(np.round((coords[:, 0] + size0) / dx).astype(np.int64), 0, w)
        y1 = np.clip(np.round((coords[:, 1] + size0) / dy).astype(np.int64), 0, h)
        x1 = np.maximum(x1, np.minimum(x0 + 1, w))
        y1 = np.maximum(y1, np.minimum(y0 + 1, h))
        area = (x1 - x0) * (y1 - y0)
        inside = sat[y1, x1] - sat[y0, x1] - sat[y1, x0] + sat[y0, x0]
        return np.where(area > 0, inside / np.maximum(area, 1), 0.0)


def otsu_threshold(values: np.ndarray) -> float:
    """Otsu's threshold of uint8 values (0-255): maximises the between-class variance.

    Returns the threshold t such that ``values > t`` is the upper class; when several t tie (no values
    between the two modes) the middle one. A constant input returns its value.
    """
    hist = np.bincount(np.asarray(values, dtype=np.uint8).ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    if total == 0:
        return 0.0
    levels = np.arange(256, dtype=np.float64)
    w0 = np.cumsum(hist)
    w1 = total - w0
    m0 = np.cumsum(hist * levels)
    mt = m0[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mt * w0 / total - m0) ** 2 / (w0 * w1 / total)
    between[~np.isfinite(between)] = -1.0
    if between.max() <= 0:
        return float(levels[hist > 0][0])
    best = np.flatnonzero(between >= between.max() * (1 - 1e-9))
    return float((best[0] + best[-1]) // 2)  # middle of a plateau (an empty gap between the modes)


def mask_from_rgb(rgb: np.ndarray, mpp_mask: float, cfg: TissueConfig = TissueConfig()) -> tuple[np.ndarray, float]:
    """Tissue mask of an (h, w, 3) uint8 image whose pixels are ``mpp_mask`` µm wide.

    Returns (mask (h, w) bool, threshold used).
    """
    sat_img = Image.fromarray(rgb, mode="RGB").convert("HSV").getchannel("S")
    if cfg.median_size > 1:
        sat_img = sat_img.filter(ImageFilter.MedianFilter(cfg.median_size))
    sat = np.asarray(sat_img)
    thr = max(otsu_threshold(sat), float(cfg.min_saturation))
    mask = sat > thr
    px_area = mpp_mask * mpp_mask
    mask = ndimage.binary_closing(mask, structure=np.ones((3, 3), bool), iterations=1, border_value=0)
    max_hole = cfg.max_hole_um2 / px_area
    if max_hole >= 1:
        holes = ndimage.binary_fill_holes(mask) & ~mask
        lab, n = ndimage.label(holes)
        if n:
            sizes = np.bincount(lab.ravel())
            small = sizes <= max_hole
            small[0] = False
            mask |= small[lab]
    min_obj = cfg.min_object_um2 / px_area
    if min_obj >= 1:
        lab, n = ndimage.label(mask)
        if n:
            sizes = np.bincount(lab.ravel())
            keep = sizes >= min_obj
            keep[0] = False
            mask = keep[lab]
    return mask, thr


def tissue_mask(slide: Slide, cfg: TissueConfig = TissueConfig()) -> TissueMask:
    """Compute the tissue mask of ``slide`` on the level closest to ``cfg.mask_mpp`` (not finer)."""
    mpp0 = slide.mpp[0] if slide.mpp else cfg.default_mpp
    level = slide.best_level_for_downsample(cfg.mask_mpp / mpp0)
    while level + 1 < slide.level_count and max(slide.level_dimensions[level]) > cfg.max_mask_side:
        level += 1
    lw, lh = slide.level_dimensions[level]
    rgb = slide.read_array((0, 0), level, (lw, lh))
    if max(lw, lh) > cfg.max_mask_side:  # a slide without a coarse level: shrink before masking
        f = max(lw, lh) / cfg.max_mask_side
        lw, lh = max(1, round(lw / f)), max(1, round(lh / f))
        rgb = np.asarray(Image.fromarray(rgb).resize((lw, lh), Image.Resampling.BOX))
    W, H = slide.dimensions
    ds = (W / lw, H / lh)
    mask, thr = mask_from_rgb(rgb, mpp0 * ds[0], cfg)
    return TissueMask(mask=mask, downsample=ds, threshold=thr, level=level)
