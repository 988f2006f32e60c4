"""The patch grid: square patches at a target resolution, kept where there is tissue.

A patch is ``patch_size`` pixels wide at ``target_mpp`` µm/px (default 256 px at
0.5 µm/px, "20×"). It covers ``size0 = round(patch_size · target_mpp / mpp0)``
level-0 pixels and is read from ``patch_level``, the coarsest level not coarser
than needed, as ``read_size`` level pixels (then resized to ``patch_size`` when
``read_size`` differs). The grid starts at (0, 0) with step ``size0`` (no
overlap); only patches wholly inside the slide with at least ``min_tissue`` of
their area on tissue are kept. Coordinates are level-0 top-left (x, y),
row-major (y, then x).

In CLAM's ``.h5`` layout (:mod:`memamba_core.slides.clam_h5`) the attribute
``patch_size`` is ``read_size`` (pixels at ``patch_level``), so that
``patch_size · level_downsamples[patch_level]`` is the level-0 extent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from .reader import Slide
from .tissue import TissueConfig, TissueMask, tissue_mask

__all__ = ["TilingConfig", "PatchGrid", "patch_grid"]


@dataclass(frozen=True)
class TilingConfig:
    """Where patches are cut."""

    patch_size: int = 256        # patch side in pixels at target_mpp (what the encoder sees)
    target_mpp: float = 0.5      # µm per pixel of a patch (0.5 ≈ 20×, 0.25 ≈ 40×)
    min_tissue: float = 0.5      # keep a patch when at least this fraction of it is tissue
    tissue: TissueConfig = field(default_factory=TissueConfig)

    def __post_init__(self) -> None:
        if self.patch_size < 8:
            raise InputError(f"tiling: patch_size must be at least 8 pixels, got {self.patch_size}.")
        if not self.target_mpp > 0:
            raise InputError(f"tiling: target_mpp must be > 0 µm/px, got {self.target_mpp}.")
        if not 0.0 <= self.min_tissue <= 1.0:
            raise InputError(f"tiling: min_tissue must be in [0, 1], got {self.min_tissue}.")


@dataclass
class PatchGrid:
    """The kept patches of one slide.

    ``coords``: (N, 2) int64 level-0 (x, y) top-left corners, row-major.
    ``tissue``: (N,) float tissue fraction of each patch.
    ``patch_level`` / ``read_size``: where and how large each patch is read (level pixels).
    ``size0``: side in level-0 pixels. ``patch_size``: side after resizing (encoder input).
    ``mpp0``: level-0 µm/px used (the slide's, or the default when it has none; ``mpp_assumed`` says which).
    """

    coords: np.ndarray
    tissue: np.ndarray
    patch_size: int
    patch_level: int
    read_size: int
    size0: int
    mpp0: float
    mpp_assumed: bool
    mask: TissueMask

    def __len__(self) -> int:
        return int(self.coords.shape[0])

    def h5_attrs(self) -> dict:
        """CLAM ``coords`` attributes (plus a few of ours) for the ``.h5`` file."""
        return {
            "patch_size": int(self.read_size),
            "patch_level": int(self.patch_level),
            "patch_size_level0": int(self.size0),
            "output_patch_size": int(self.patch_size),
            "mpp_level0": float(self.mpp0),
            "target_mpp": float(self.mpp0 * self.size0 / self.patch_size),
        }


def patch_grid(slide: Slide, cfg: TilingConfig = TilingConfig(), mask: TissueMask | None = None) -> PatchGrid:
    """Cut ``slide`` into a grid of tissue patches (see module doc). ``mask`` defaults to :func:`tissue_mask`."""
    mpp_assumed = slide.mpp is None
    mpp0 = cfg.tissue.default_mpp if mpp_assumed else slide.mpp[0]
    size0 = max(1, int(round(cfg.patch_size * cfg.target_mpp / mpp0)))
    level = slide.best_level_for_downsample(size0 / cfg.patch_size)
    ds = slide.level_downsamples[level]
    read_size = max(1, int(round(size0 / ds)))
    if mask is None:
        mask = tissue_mask(slide, cfg.tissue)
    W, H = slide.dimensions
    nx, ny = W // size0, H // size0
    if nx == 0 or ny == 0:
        coords = np.zeros((0, 2), np.int64)
        frac = np.zeros((0,), np.float64)
    else:
        gy, gx = np.mgrid[0:ny, 0:nx]
        coords = np.stack([gx.ravel() * size0, gy.ravel() * size0], axis=1).astype(np.int64)
        frac = mask.tissue_fraction(coords, size0)
        keep = frac >= max(cfg.min_tissue, 1e-9)
        coords, frac = coords[keep], frac[keep]
    return PatchGrid(
        coords=coords, tissue=frac, patch_size=cfg.patch_size, patch_level=level, read_size=read_size,
        size0=size0, mpp0=float(mpp0), mpp_assumed=mpp_assumed, mask=mask,
    )
