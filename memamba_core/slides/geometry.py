"""Patch geometry: how one slide was cut into patches, as its feature file records it.

Coordinates are **level-0 pixels, (x, y)** of each patch's top-left corner (see
:mod:`memamba_core.slides.reader`). A patch is a square whose side in level-0 pixels,
``side0``, is what every drawing and every full-resolution read needs. Feature files
say it in different ways:

============================  =====================================================
writer                        what the ``coords`` attributes hold
============================  =====================================================
this project (``extract``)    ``patch_size`` (px at ``patch_level``), ``patch_level``,
                              ``patch_size_level0``
TRIDENT                       ``patch_size`` (px at ``target_magnification``),
                              ``patch_size_level0``, ``level0_magnification``,
                              ``target_magnification``, ``level0_width`` /
                              ``level0_height``, ``overlap``, ``name``
CLAM ``patches/*.h5``         ``patch_size`` (px at ``patch_level``), ``patch_level``,
                              ``downsample`` (of that level), ``level_dim``
CLAM ``h5_files/*.h5``        nothing (``extract_features_fp.py`` writes no attributes)
============================  =====================================================

:meth:`PatchGeometry.side0` resolves the side in this order: ``patch_size_level0``;
``patch_size`` × the recorded ``downsample``; ``patch_size`` ×
``level0_magnification / target_magnification``; ``patch_size`` × the slide's own
``level_downsamples[patch_level]``; the step of the coordinate grid (CLAM's default
step equals the patch side); else unknown. :attr:`PatchGeometry.source` says which.

Each slide of a multi-slide bag has its own geometry (``Bag.geometry(i)``): slides
scanned at 20× and 40×, or cut at different levels, have different sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..errors import InputError

__all__ = ["PatchGeometry", "PerSlideGeometry", "grid_step"]


def _number(attrs: Mapping, key: str, where: str, *, integer: bool, minimum: float) -> float | None:
    """``attrs[key]`` as a finite number ≥ ``minimum``; None when absent (TRIDENT writes absent values as 'None')."""
    if key not in attrs:
        return None
    raw = attrs[key]
    if isinstance(raw, (bytes, np.bytes_)):
        raw = raw.decode(errors="replace")
    if raw is None or (isinstance(raw, str) and raw.strip() in ("", "None")):
        return None
    arr = np.asarray(raw).reshape(-1)
    try:
        v = float(arr[0]) if arr.size and arr.dtype.kind in "biuf" else float(str(raw))
    except (TypeError, ValueError):
        v = math.nan
    if not math.isfinite(v) or v < minimum or (integer and v != int(v)):
        kind = "an integer" if integer else "a number"
        raise InputError(
            f"{where}: attribute '{key}' is {raw!r}, expected {kind} ≥ {minimum:g}; "
            f"re-create the file with its patching tool (CLAM, TRIDENT or memamba extract) or remove the attribute."
        )
    return v


def grid_step(coords: np.ndarray) -> float | None:
    """The step of a patch grid, in level-0 pixels: the smallest positive gap between distinct x or distinct y.

    ``coords`` (N, 2) level-0 (x, y). None when no two patches share a row or column spacing (N < 2).
    """
    c = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    gaps = []
    for axis in (0, 1):
        d = np.diff(np.unique(c[:, axis]))
        d = d[d > 0]
        if d.size:
            gaps.append(float(d.min()))
    return min(gaps) if gaps else None


@dataclass(frozen=True)
class PatchGeometry:
    """How one slide's patches sit on it (see the module doc).

    ``patch_size``: patch side in pixels at ``patch_level`` (CLAM) or at the target
    magnification (TRIDENT); ``patch_level``: the slide level patches were read at
    (None when the file does not say, as in TRIDENT); ``size0``: the level-0 side when
    the file fixes it without the slide; ``level0_size``: the ``(W, H)`` of the slide
    the file was made from, when it records it (TRIDENT); ``step0``: the coordinate
    grid's step in level-0 pixels (fallback); ``source``: how ``size0`` was found.
    """

    patch_size: int | None = None
    patch_level: int | None = None
    size0: float | None = None
    level0_size: tuple[int, int] | None = None
    step0: float | None = None
    source: str = "unknown"

    @classmethod
    def from_attrs(cls, attrs: Mapping, coords: np.ndarray | None = None, where: str = "feature file") -> "PatchGeometry":
        """The geometry a feature file's attributes (and ``coords`` (N, 2), for the grid step) describe.

        Raises :class:`InputError` naming ``where`` for an attribute that is present but not a
        valid number (negative, NaN, text); absent ones are simply unknown.
        """
        size = _number(attrs, "patch_size", where, integer=True, minimum=1)
        level = _number(attrs, "patch_level", where, integer=True, minimum=0)
        size0 = _number(attrs, "patch_size_level0", where, integer=False, minimum=1e-9)
        source = "patch_size_level0"
        if size0 is None and size is not None:
            ds = _number(attrs, "downsample", where, integer=False, minimum=1e-9)
            mag0 = _number(attrs, "level0_magnification", where, integer=False, minimum=1e-9)
            mag = _number(attrs, "target_magnification", where, integer=False, minimum=1e-9)
            if ds is not None:
                size0, source = size * ds, "patch_size × downsample"
            elif mag0 is not None and mag is not None:
                size0, source = size * mag0 / mag, "patch_size × level0_magnification / target_magnification"
        w0 = _number(attrs, "level0_width", where, integer=True, minimum=1)
        h0 = _number(attrs, "level0_height", where, integer=True, minimum=1)
        step = grid_step(coords) if coords is not None and len(coords) else None
        if size0 is None:
            source = ("patch_size × level_downsamples[patch_level]" if size is not None
                      else "grid step of the coordinates" if step is not None else "unknown")
        return cls(
            patch_size=None if size is None else int(size),
            patch_level=None if level is None else int(level),
            size0=size0,
            level0_size=(int(w0), int(h0)) if w0 is not None and h0 is not None else None,
            step0=step,
            source=source,
        )

    @property
    def known(self) -> bool:
        """True when the side can be found (possibly with the slide's downsamples)."""
        return self.source != "unknown"

    def side0(self, level_downsamples: Sequence[float] | None = None, slide: str = "the slide") -> float | None:
        """Patch side in level-0 pixels; None when unknown.

        ``level_downsamples``: the slide's (needed only when the file gives ``patch_size`` at
        ``patch_level`` and nothing else). Raises :class:`InputError` naming ``slide`` when the
        file's ``patch_level`` is not a level of that slide (the features come from another file).
        """
        if self.size0 is not None:
            return float(self.size0)
        if self.patch_size is not None:
            level = self.patch_level or 0
            if level_downsamples is None:
                return float(self.patch_size) if level == 0 else None
            if level >= len(level_downsamples):
                raise InputError(
                    f"{slide}: its feature file says the patches were cut at level {level} ({self.patch_size} px), "
                    f"but this slide has levels 0..{len(level_downsamples) - 1}; the features were made from another "
                    f"copy of the slide — re-extract them from this file (memamba extract)."
                )
            return float(self.patch_size) * float(level_downsamples[level])
        return self.step0


class PerSlideGeometry:
    """Per-slide access for anything holding a bag's patch layout: ``slide_ids`` (S,), ``slide_index`` (N,) into
    them and ``geometries`` (one :class:`PatchGeometry` per slide). Shared by the feature bag
    (:class:`memamba_core.data.Bag`) and the light layout a page caches (:class:`memamba_core.app.BagLayout`)."""

    slide_ids: tuple[str, ...]
    slide_index: np.ndarray
    geometries: tuple[PatchGeometry, ...]

    def geometry(self, slide_pos: int) -> PatchGeometry:
        """The patch geometry of slide ``slide_pos`` (an index into ``slide_ids``)."""
        if not 0 <= slide_pos < len(self.slide_ids):
            raise IndexError(f"slide {slide_pos} does not exist; this bag has slides 0..{len(self.slide_ids) - 1}.")
        return self.geometries[slide_pos] if slide_pos < len(self.geometries) else PatchGeometry()

    def rows(self, slide_pos: int) -> np.ndarray:
        """(n,) int64 indices of the bag rows (patches) that come from slide ``slide_pos``."""
        self.geometry(slide_pos)
        return np.flatnonzero(np.asarray(self.slide_index) == slide_pos)
