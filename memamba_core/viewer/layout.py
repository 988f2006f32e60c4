"""The patches of one slide, as the viewer draws and queries them.

Glossary: a patient's bag has N patches over its slides; one slide holds n of
them. ``index (n,)`` maps the slide's patches to bag rows, ``coords (n, 2)`` are
level-0 (x, y) top-left corners and ``side0`` the patch side in level-0 pixels
(CLAM's ``patch_size`` at ``patch_level`` × that level's downsample — each slide
of a multi-slide bag with its own). Patch ``i`` covers
``[x_i, x_i + side0) × [y_i, y_i + side0)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = ["PatchLayout"]


@dataclass(frozen=True)
class PatchLayout:
    """Patches of one slide: ``index (n,)`` bag rows, ``coords (n, 2)`` level-0 (x, y), ``side0`` level-0 px."""

    slide_id: str
    index: np.ndarray
    coords: np.ndarray
    side0: float

    def __post_init__(self) -> None:
        idx = np.asarray(self.index, dtype=np.int64).reshape(-1)
        xy = np.asarray(self.coords, dtype=np.float64).reshape(-1, 2)
        if idx.shape[0] != xy.shape[0]:
            raise InputError(f"slide {self.slide_id}: {idx.shape[0]} patch indices but {xy.shape[0]} coordinates.")
        if not np.isfinite(xy).all():
            raise InputError(f"slide {self.slide_id}: patch coordinates hold non-finite values; re-extract the features.")
        if not (np.isfinite(self.side0) and self.side0 > 0):
            raise InputError(f"slide {self.slide_id}: patch side {self.side0!r} level-0 px is not a positive number; "
                             f"check the .h5 patch_size / patch_level attributes.")
        object.__setattr__(self, "index", idx)
        object.__setattr__(self, "coords", xy)
        object.__setattr__(self, "side0", float(self.side0))

    def __len__(self) -> int:
        return int(self.index.shape[0])

    @classmethod
    def from_slide_patches(cls, sp) -> "PatchLayout":
        """The layout of one slide from the library's slide view (:func:`memamba_core.slides.slide_patches`),
        which owns the per-slide geometry and leaves out patches lying off the slide."""
        return cls(sp.slide_id, sp.index, sp.coords, sp.patch_size0)

    @classmethod
    def without_slide_file(cls, bag, slide_pos: int) -> "PatchLayout":
        """Slide ``slide_pos`` of ``bag`` when the cohort has its features but not its image: the side must then
        follow from the feature file alone (a level-0 size, or a patch size at level 0)."""
        sid = bag.slide_ids[slide_pos]
        if bag.coords is None:
            raise InputError(f"slide {sid}: the bag has no patch coordinates (only .pt features); "
                             f"add the CLAM .h5 files to draw patches on the slide.")
        side = bag.geometry(slide_pos).side0(None, slide=f"slide {sid}")
        if side is None:
            raise InputError(f"slide {sid}: its patches were cut at a pyramid level, so their level-0 size needs the "
                             f"slide file, which the cohort does not have; add the slide to slides/.")
        rows = bag.rows(slide_pos)
        return cls(sid, rows, np.asarray(bag.coords)[rows], side)

    def patch_at(self, x: float, y: float) -> int | None:
        """Position (0..n-1) of the patch covering level-0 point (x, y); the last one where patches overlap."""
        c = self.coords
        hit = np.flatnonzero((c[:, 0] <= x) & (x < c[:, 0] + self.side0) & (c[:, 1] <= y) & (y < c[:, 1] + self.side0))
        return int(hit[-1]) if hit.size else None

    def outside(self, width: int, height: int) -> np.ndarray:
        """Positions of patches not wholly inside a ``width × height`` level-0 image (a bag of another slide)."""
        c = self.coords
        bad = (c[:, 0] < 0) | (c[:, 1] < 0) | (c[:, 0] + self.side0 > width + 0.5) | (c[:, 1] + self.side0 > height + 0.5)
        return np.flatnonzero(bad)
