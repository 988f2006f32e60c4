"""Deep Zoom tiles over the project's slide reader, with OpenSlide's own tile generator.

:func:`deep_zoom` returns an ``openslide.deepzoom.DeepZoomGenerator`` (``get_dzi``,
``level_count``, ``level_tiles``, ``get_tile(level, (col, row))``) for an open
:class:`~memamba_core.slides.reader.Slide` of either backend. The generator needs
more than a :class:`Slide` offers — OpenSlide's method name
``get_best_level_for_downsample``, ``read_region`` returning RGBA (it composites on
the background through the alpha channel; TiffSlide returns RGB, which it refuses),
OpenSlide's property names for the bounds and background colour — so
:class:`DeepZoomSource` adapts a :class:`Slide` to exactly that surface. Pixels come
from :meth:`Slide.read_array`, so both backends give the same tiles and a failed read
is the reader's :class:`~memamba_core.errors.InputError` naming the file.

Deep Zoom level ``level_count - 1`` is level 0 (full resolution); each level below
halves it. A tile ``(col, row)`` of Deep Zoom level z covers level-0 pixels starting
at ``get_tile_coordinates(z, (col, row))[0]``.
"""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image

from ..errors import InputError
from .reader import Slide

__all__ = ["DeepZoomSource", "deep_zoom"]

_BOUNDS = ("bounds-x", "bounds-y", "bounds-width", "bounds-height")


class DeepZoomSource:
    """The part of ``openslide.AbstractSlide`` that ``DeepZoomGenerator`` reads, over a :class:`Slide`.

    ``properties`` holds only what the generator looks up, under OpenSlide's names: the
    bounds of the scanned region (``openslide.bounds-*``, from either backend, when the
    file records them) and the background colour (white: :class:`Slide` already paints
    transparent and outside pixels white).

    A viewer asks for tiles from several threads: TiffSlide handles are not documented as
    thread-safe, so reads through them are serialised. The coarse Deep Zoom levels all read
    the slide's coarsest level, each tile a large part of it; that level is read once and
    kept (when at most ``KEEP_PIXELS``), so those tiles are crops of memory.
    """

    KEEP_PIXELS = 16_000_000   # keep the coarsest level in memory up to this size (48 MB of RGB)
    _CROP_FROM = 4 * 254 * 254  # reads of the coarsest level larger than this many pixels are cut from the kept copy

    def __init__(self, slide: Slide) -> None:
        self.slide = slide
        self.dimensions = slide.dimensions
        self.level_count = slide.level_count
        self.level_dimensions = slide.level_dimensions
        self.level_downsamples = slide.level_downsamples
        props = {"openslide.background-color": "ffffff"}
        for name in _BOUNDS:
            raw = slide.properties.get(f"{slide.backend}.{name}")
            try:
                props[f"openslide.{name}"] = str(int(float(raw)))
            except (TypeError, ValueError):
                continue
        self.properties = props
        self._lock = threading.Lock() if slide.backend != "openslide" else None
        self._coarse: np.ndarray | None = None
        self._coarse_lock = threading.Lock()

    def get_best_level_for_downsample(self, downsample: float) -> int:
        return self.slide.best_level_for_downsample(downsample)

    def _read(self, location, level, size) -> Image.Image:
        if self._lock is None:
            return self.slide.read_region(location, level, size)
        with self._lock:
            return self.slide.read_region(location, level, size)

    def _coarsest(self) -> np.ndarray | None:
        k = self.level_count - 1
        w, h = self.level_dimensions[k]
        if w * h > self.KEEP_PIXELS:
            return None
        with self._coarse_lock:
            if self._coarse is None:
                self._coarse = np.asarray(self._read((0, 0), k, (w, h)))
        return self._coarse

    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> Image.Image:
        """An opaque RGBA image of the region (level-0 ``location``, ``size`` (w, h) at ``level``)."""
        w, h = int(size[0]), int(size[1])
        kept = self._coarsest() if level == self.level_count - 1 and w * h > self._CROP_FROM else None
        if kept is None:
            return self._read(location, level, size).convert("RGBA")
        ds = self.level_downsamples[level]
        x, y = int(round(location[0] / ds)), int(round(location[1] / ds))
        out = np.full((h, w, 3), 255, np.uint8)
        lh, lw = kept.shape[:2]
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, lw), min(y + h, lh)
        if x1 > x0 and y1 > y0:
            out[y0 - y:y1 - y, x0 - x:x1 - x] = kept[y0:y1, x0:x1]
        return Image.fromarray(out, mode="RGB").convert("RGBA")

    def __repr__(self) -> str:
        return f"DeepZoomSource({self.slide!r})"


def deep_zoom(slide: Slide, tile_size: int = 254, overlap: int = 1, limit_bounds: bool = False):
    """A ``DeepZoomGenerator`` for ``slide`` (see module doc); ``tile_size + 2 * overlap`` a power of two is best.

    Raises :class:`InputError` when OpenSlide's Python package (which holds the generator) cannot
    be imported, or for a non-positive ``tile_size`` / negative ``overlap``.
    """
    if tile_size <= 0 or overlap < 0:
        raise InputError(f"deep zoom: tile_size must be > 0 and overlap ≥ 0, got {tile_size} and {overlap}.")
    try:
        from openslide.deepzoom import DeepZoomGenerator
    except (ImportError, OSError) as err:
        raise InputError(
            f"deep zoom needs the openslide-python package and its library ({type(err).__name__}: {err}); "
            f"install them with: pip install openslide-python openslide-bin."
        ) from err
    return DeepZoomGenerator(DeepZoomSource(slide), tile_size=tile_size, overlap=overlap, limit_bounds=limit_bounds)
