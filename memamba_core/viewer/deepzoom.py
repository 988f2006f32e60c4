"""Deep Zoom tiles of a slide, read on demand: OpenSlide's ``DeepZoomGenerator`` over the project's reader.

Geometry (the one place it is written down for the viewer). A slide of level-0
size ``(W, H)`` has ``L`` Deep Zoom (DZ) levels; DZ level ``z`` is the image
downsampled by ``scale(z) = 2 ** (L - 1 - z)`` (level-0 pixels per DZ pixel),
so the deepest DZ level ``L - 1`` *is* level 0 and level 0 is one pixel. DZ
level ``z`` is cut into tiles of ``TILE_SIZE`` px, each with ``OVERLAP`` extra
pixels on every interior edge. DZ pixel ``(zx, zy)`` of level ``z`` is level-0
``(zx · scale, zy · scale)``; a tile's top-left DZ pixel is
``(col · TILE_SIZE − OVERLAP·[col > 0], row · TILE_SIZE − OVERLAP·[row > 0])``.
OpenSeadragon places DZI tiles by the same rule, so anything drawn with this
geometry (the overlays of :mod:`memamba_core.viewer.overlays`) lands on the
same pixels at every zoom.

Each DZ level is read from the coarsest slide level not coarser than it
(``Slide.best_level_for_downsample``): every pyramid level is used, and a DZ
level that matches a slide level exactly is that level's pixels. The bounds
of the image are the whole level-0 plane (``limit_bounds=False``), so DZ image
coordinates are level-0 pixels with no offset. A tile reads only its own region
of the slide level it comes from; the one exception is the coarsest level, which
the coarse DZ levels all downsample: it is read once and kept when it has at most
16 Mpx (its few JPEG tiles too). Nothing scales with the full-resolution image.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..errors import InputError
from ..slides import Slide, deep_zoom, open_slide

__all__ = ["TILE_SIZE", "OVERLAP", "TileBox", "SlideDeepZoom", "dz_scale"]

TILE_SIZE = 254   # DZ tile side without overlap: 254 + 2·1 = 256 px for interior tiles
OVERLAP = 1       # extra pixels on each interior edge (hides seams when OpenSeadragon blends tiles)
JPEG_QUALITY = 90       # with 4:4:4 chroma: re-encoding a real H&E tile costs ~4 grey levels (MAE)
_MAX_COARSE_TILES = 512   # coarse-level JPEG tiles kept per slide (a few MB)
MAX_READ_PIXELS = 16_000_000   # slide pixels one tile may read (a slide without a pyramid: its zoomed-out tiles
                               # are refused rather than read whole into memory)


def dz_scale(level_count: int, level: int) -> float:
    """Level-0 pixels per DZ pixel at DZ ``level`` of an image with ``level_count`` DZ levels."""
    return float(2 ** (level_count - 1 - level))


@dataclass(frozen=True)
class TileBox:
    """Where one DZ tile lies. ``origin0``: level-0 (x, y) of its top-left pixel (overlap included);
    ``scale``: level-0 px per tile px; ``size``: (w, h) tile pixels; ``slide_level``: the slide level read."""

    level: int
    col: int
    row: int
    origin0: tuple[float, float]
    scale: float
    size: tuple[int, int]
    slide_level: int

    def bounds0(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) level-0 rectangle the tile covers."""
        x0, y0 = self.origin0
        return x0, y0, x0 + self.size[0] * self.scale, y0 + self.size[1] * self.scale


class SlideDeepZoom:
    """Deep Zoom tiles of one slide file. Use as a context manager or call :meth:`close`.

    ``level_count``: DZ levels; ``level_dimensions``: (w, h) per DZ level; ``level_tiles``:
    (cols, rows) per DZ level; ``slide_level(z)``: the slide level DZ level ``z`` is read from.
    """

    def __init__(self, slide: Slide | str | Path) -> None:
        self.slide = slide if isinstance(slide, Slide) else open_slide(slide)
        self._dz = deep_zoom(self.slide, tile_size=TILE_SIZE, overlap=OVERLAP, limit_bounds=False)
        self.level_count: int = self._dz.level_count
        self.level_dimensions: tuple[tuple[int, int], ...] = tuple(self._dz.level_dimensions)
        self.level_tiles: tuple[tuple[int, int], ...] = tuple(self._dz.level_tiles)
        self._coarse_tiles: OrderedDict[tuple, bytes] = OrderedDict()
        self._cache_lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.slide.path

    def slide_level(self, level: int) -> int:
        """The slide pyramid level DZ ``level`` is read from."""
        return self.box(level, 0, 0).slide_level

    def dzi(self, fmt: str = "jpeg") -> str:
        """The ``.dzi`` XML descriptor (``fmt``: ``"jpeg"`` for the slide, ``"png"`` for overlays)."""
        return self._dz.get_dzi(fmt)

    def _check(self, level: int, col: int, row: int) -> None:
        if not 0 <= level < self.level_count:
            raise InputError(f"{self.path.name}: deep-zoom level {level} does not exist (0..{self.level_count - 1}).")
        cols, rows = self.level_tiles[level]
        if not (0 <= col < cols and 0 <= row < rows):
            raise InputError(f"{self.path.name}: tile ({col}, {row}) is outside deep-zoom level {level} "
                             f"({cols} × {rows} tiles).")

    def box(self, level: int, col: int, row: int) -> TileBox:
        """Geometry of tile (col, row) of DZ ``level`` (see the module doc)."""
        self._check(level, col, row)
        (_, slide_level, _), size = self._dz.get_tile_coordinates(level, (col, row)), self._dz.get_tile_dimensions(
            level, (col, row))
        scale = dz_scale(self.level_count, level)
        zx = col * TILE_SIZE - (OVERLAP if col > 0 else 0)
        zy = row * TILE_SIZE - (OVERLAP if row > 0 else 0)
        return TileBox(level, col, row, (zx * scale, zy * scale), scale, (int(size[0]), int(size[1])),
                       int(slide_level))

    def read_pixels(self, box: TileBox) -> int:
        """Pixels of the slide level a tile reads (0 when they come from the kept coarsest level)."""
        from ..slides.deepzoom import DeepZoomSource

        k = self.slide.level_count - 1
        cw, ch = self.slide.level_dimensions[k]
        if box.slide_level == k and cw * ch <= DeepZoomSource.KEEP_PIXELS:
            return 0
        f = box.scale / self.slide.level_downsamples[box.slide_level]
        return int(round(box.size[0] * f) * round(box.size[1] * f))

    def tile_image(self, level: int, col: int, row: int) -> Image.Image:
        """Tile (col, row) of DZ ``level`` as an RGB image of ``box(...).size``.

        InputError when the tile would read more than :data:`MAX_READ_PIXELS` of the slide (a zoomed-out view of a
        slide without a pyramid below that zoom): nothing that scales with the full image is read.
        """
        box = self.box(level, col, row)
        px = self.read_pixels(box)
        if px > MAX_READ_PIXELS:
            raise InputError(f"{self.path.name}: this zoomed-out tile would read {px / 1e6:.0f} Mpx of slide level "
                             f"{box.slide_level} (the slide has no pyramid level this coarse); zoom in, or save the "
                             f"slide as a pyramidal TIFF.")
        return self._dz.get_tile(level, (col, row)).convert("RGB")

    def tile_jpeg(self, level: int, col: int, row: int, quality: int = JPEG_QUALITY) -> bytes:
        """The tile encoded as JPEG (what the tile server sends).

        Tiles of the coarse DZ levels (each a downsample of a large region of the coarsest slide level)
        are kept once made; they are few (the whole overview), so the cache stays small.
        """
        key = (level, col, row, quality)
        with self._cache_lock:
            hit = self._coarse_tiles.get(key)
        if hit is not None:
            return hit
        buf = io.BytesIO()
        self.tile_image(level, col, row).save(buf, "JPEG", quality=quality, subsampling=0)
        data = buf.getvalue()
        box = self.box(level, col, row)
        if box.scale / self.slide.level_downsamples[box.slide_level] >= 4:
            with self._cache_lock:
                self._coarse_tiles[key] = data
                while len(self._coarse_tiles) > _MAX_COARSE_TILES:
                    self._coarse_tiles.popitem(last=False)
        return data

    def close(self) -> None:
        self.slide.close()

    def __enter__(self) -> "SlideDeepZoom":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SlideDeepZoom({self.path.name!r}, dz_levels={self.level_count}, slide_levels={self.slide.level_count})"

