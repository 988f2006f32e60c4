"""Whole-slide images: reading (OpenSlide or TiffSlide), tissue masks, patch grids, patch ``.h5`` files,
per-slide patch geometry, the slide view the dashboard draws, and Deep Zoom tiles.

Coordinates everywhere are level-0 pixels, (x, y); see :mod:`memamba_core.slides.reader`.
Names are imported from their sub-module on first use, so that reading a feature file
(:mod:`~memamba_core.slides.clam_h5`, :mod:`~memamba_core.slides.geometry`) does not load
scipy or the slide readers.
"""

from .._lazy import lazy_getattr

_LAZY = {
    "reader": ("Slide", "open_slide", "available_backends", "BACKENDS", "SLIDE_EXTENSIONS"),
    "tissue": ("TissueConfig", "TissueMask", "tissue_mask", "mask_from_rgb", "otsu_threshold"),
    "tiling": ("TilingConfig", "PatchGrid", "patch_grid"),
    "patches": ("iter_patch_batches", "read_patch", "read_patches", "read_side"),
    "clam_h5": ("PatchH5", "read_patch_h5", "write_clam_h5", "read_clam_h5"),
    "geometry": ("PatchGeometry", "grid_step"),
    "files": ("slide_stem", "cohort_slide_file", "open_cohort_slide"),
    "view": ("SlidePatches", "slide_patches", "thumbnail_scale", "attention_keys", "to_numpy", "DEFAULT_PATCH_SIZE0"),
    "deepzoom": ("DeepZoomSource", "deep_zoom"),
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}

__all__ = [name for names in _LAZY.values() for name in names]

__getattr__ = lazy_getattr(__name__, _WHERE)


def __dir__():
    return sorted(__all__)
