"""Whole-slide images: reading (OpenSlide or TiffSlide), tissue masks, patch grids, CLAM ``.h5`` coordinates.

Coordinates everywhere are level-0 pixels, (x, y); see :mod:`memamba_core.slides.reader`.
"""

from .clam_h5 import read_clam_h5, write_clam_h5
from .patches import iter_patch_batches, read_patch
from .reader import BACKENDS, SLIDE_EXTENSIONS, Slide, available_backends, open_slide
from .tiling import PatchGrid, TilingConfig, patch_grid
from .tissue import TissueConfig, TissueMask, mask_from_rgb, otsu_threshold, tissue_mask

__all__ = [
    "Slide", "open_slide", "available_backends", "BACKENDS", "SLIDE_EXTENSIONS",
    "TissueConfig", "TissueMask", "tissue_mask", "mask_from_rgb", "otsu_threshold",
    "TilingConfig", "PatchGrid", "patch_grid",
    "iter_patch_batches", "read_patch",
    "write_clam_h5", "read_clam_h5",
]
