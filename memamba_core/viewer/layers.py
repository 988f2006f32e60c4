"""Overlay layers drawn server-side into tiles of the slide's own Deep Zoom geometry.

Why server-side tiles: a layer is one more DZI tile source with exactly the
slide's geometry (:mod:`memamba_core.viewer.deepzoom`), so OpenSeadragon stacks
it over the tissue and it stays aligned at every zoom by construction; its
cost is bounded by the tile, not by the number of patches (tens of thousands of
DOM overlays or a canvas redrawn per frame are not); toggling and opacity are
the tiled image's own ``opacity``, changed in the browser without a redraw.

Each layer renders ``(h, w, 4)`` uint8 RGBA for a :class:`TileBox`. A tile pixel
``(i, j)`` stands for the level-0 point at its centre,
``(x0 + (i + ½)·scale, y0 + (j + ½)·scale)``; a patch paints the pixels whose
centres fall inside it, and at least the one pixel holding its centre (so a
patch smaller than a pixel at a coarse zoom still shows).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .deepzoom import TileBox

__all__ = ["OverlayLayer", "PatchPaint", "MaskPaint", "PolygonPaint", "render_png", "patch_pixel_rects"]

_MIN_LABEL_PX = 22   # a rank label is drawn when the patch is at least this wide on screen


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, np.ndarray):
            h.update(str(p.dtype).encode() + str(p.shape).encode())
            h.update(np.ascontiguousarray(p).tobytes())
        else:
            h.update(repr(p).encode())
        h.update(b"\x00")
    return h.hexdigest()


class OverlayLayer:
    """A layer: ``name``, ``fingerprint()`` (same content → same string) and ``render(box) -> (h, w, 4)``."""

    name: str

    def fingerprint(self) -> str:
        raise NotImplementedError

    def render(self, box: TileBox) -> np.ndarray:
        raise NotImplementedError


def render_png(layer: OverlayLayer, box: TileBox) -> bytes:
    """One overlay tile as an RGBA PNG."""
    buf = io.BytesIO()
    Image.fromarray(layer.render(box), mode="RGBA").save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def patch_pixel_rects(coords: np.ndarray, side0: float, box: TileBox, clip: bool = True) -> np.ndarray:
    """(n, 4) int tile-pixel rectangles ``x0, y0, x1, y1`` (exclusive ends) of level-0 squares.

    ``coords (n, 2)`` level-0 top-left corners, side ``side0``. Pixels whose centres fall inside a square
    are its pixels; a square covering no centre gets the pixel holding its centre. ``clip``: clipped to
    the tile (else the whole rectangle, possibly beyond it — what outlines need).
    """
    ox, oy = box.origin0
    s = box.scale
    w, h = box.size
    c = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    px0 = np.ceil((c[:, 0] - ox) / s - 0.5)
    px1 = np.ceil((c[:, 0] + side0 - ox) / s - 0.5)
    py0 = np.ceil((c[:, 1] - oy) / s - 0.5)
    py1 = np.ceil((c[:, 1] + side0 - oy) / s - 0.5)
    cx = np.floor((c[:, 0] + side0 / 2 - ox) / s)
    cy = np.floor((c[:, 1] + side0 / 2 - oy) / s)
    thin_x, thin_y = px1 <= px0, py1 <= py0
    px0, px1 = np.where(thin_x, cx, px0), np.where(thin_x, cx + 1, px1)
    py0, py1 = np.where(thin_y, cy, py0), np.where(thin_y, cy + 1, py1)
    if clip:
        px0, px1, py0, py1 = np.clip(px0, 0, w), np.clip(px1, 0, w), np.clip(py0, 0, h), np.clip(py1, 0, h)
    return np.stack([px0, py0, px1, py1], 1).astype(np.int64)


def _in_box(coords: np.ndarray, side0: float, box: TileBox, margin0: float = 0.0) -> np.ndarray:
    """Positions of squares meeting the tile's level-0 rectangle grown by ``margin0``."""
    x0, y0, x1, y1 = box.bounds0()
    c = coords
    return np.flatnonzero((c[:, 0] < x1 + margin0) & (c[:, 0] + side0 > x0 - margin0)
                          & (c[:, 1] < y1 + margin0) & (c[:, 1] + side0 > y0 - margin0))


@dataclass(frozen=True, eq=False)
class PatchPaint(OverlayLayer):
    """Squares of side ``side0`` at ``coords (n, 2)`` (level-0 top-left), painted in order (later on top).

    ``fill (n, 4)`` uint8 RGBA or None; ``outline (n, 4)`` uint8 RGBA or None, ``outline_px`` wide (screen
    pixels) when the square is wider than ``min_outline_px`` on screen; ``labels`` one string per square
    (e.g. a rank), drawn in the square's top-left corner when it is at least 22 px wide on screen.
    """

    name: str
    coords: np.ndarray
    side0: float
    fill: np.ndarray | None = None
    outline: np.ndarray | None = None
    outline_px: int = 2
    min_outline_px: int = 0
    labels: tuple[str, ...] | None = None

    def fingerprint(self) -> str:
        return _digest("patch", self.name, self.coords, self.side0, self.fill, self.outline, self.outline_px,
                       self.min_outline_px, self.labels)

    def render(self, box: TileBox) -> np.ndarray:
        w, h = box.size
        img = np.zeros((h, w, 4), np.uint8)
        sel = _in_box(self.coords, self.side0, box)
        if sel.size == 0:
            return img
        on_screen = self.side0 / box.scale
        if self.fill is not None:
            _fill_rects(img, patch_pixel_rects(self.coords[sel], self.side0, box), self.fill[sel])
        if self.outline is not None and on_screen >= max(self.min_outline_px, 2 * self.outline_px + 1):
            rects = patch_pixel_rects(self.coords[sel], self.side0, box, clip=False)
            _outline_rects(img, rects, self.outline[sel], self.outline_px)
        if self.labels is not None and on_screen >= _MIN_LABEL_PX:
            img = _draw_labels(img, self.coords[sel], [self.labels[i] for i in sel], on_screen, box)
        return img


def _fill_rects(img: np.ndarray, rects: np.ndarray, colours: np.ndarray) -> None:
    one = ((rects[:, 2] - rects[:, 0]) == 1) & ((rects[:, 3] - rects[:, 1]) == 1)
    if one.any():  # many one-pixel squares at coarse zoom: one scatter
        img[rects[one, 1], rects[one, 0]] = colours[one]
    for (x0, y0, x1, y1), c in zip(rects[~one], colours[~one]):
        img[y0:y1, x0:x1] = c


def _outline_rects(img: np.ndarray, rects: np.ndarray, colours: np.ndarray, t: int) -> None:
    """Borders ``t`` px wide of unclipped rectangles; only the parts inside ``img`` are drawn."""
    h, w = img.shape[:2]

    def put(ya, yb, xa, xb, c):
        ya, yb, xa, xb = max(ya, 0), min(yb, h), max(xa, 0), min(xb, w)
        if ya < yb and xa < xb:
            img[ya:yb, xa:xb] = c

    for (x0, y0, x1, y1), c in zip(rects, colours):
        put(y0, min(y0 + t, y1), x0, x1, c)
        put(max(y1 - t, y0), y1, x0, x1, c)
        put(y0, y1, x0, min(x0 + t, x1), c)
        put(y0, y1, max(x1 - t, x0), x1, c)


def _draw_labels(img: np.ndarray, coords: np.ndarray, labels: list[str], on_screen: float, box: TileBox) -> np.ndarray:
    pil = Image.fromarray(img, mode="RGBA")
    draw = ImageDraw.Draw(pil)
    size = int(min(32, max(11, on_screen / 6)))
    font = ImageFont.load_default(size=size)
    ox, oy = box.origin0
    for (x, y), text in zip(coords, labels):
        tx, ty = (x - ox) / box.scale + 4, (y - oy) / box.scale + 3
        l, t, r, b = draw.textbbox((tx, ty), text, font=font)
        draw.rectangle((l - 2, t - 1, r + 2, b + 1), fill=(255, 255, 255, 230))
        draw.text((tx, ty), text, font=font, fill=(0, 0, 0, 255))
    return np.asarray(pil).copy()


@dataclass(frozen=True, eq=False)
class MaskPaint(OverlayLayer):
    """A low-resolution boolean mask of the whole slide (e.g. tissue): ``mask (mh, mw)``, mask pixel
    (i, j) covering level-0 ``[j·dx, (j+1)·dx) × [i·dy, (i+1)·dy)``; True pixels painted ``colour`` RGBA."""

    name: str
    mask: np.ndarray
    downsample: tuple[float, float]
    colour: tuple[int, int, int, int] = (0, 170, 90, 255)

    def fingerprint(self) -> str:
        return _digest("mask", self.name, np.asarray(self.mask, bool), tuple(self.downsample), self.colour)

    def render(self, box: TileBox) -> np.ndarray:
        w, h = box.size
        mh, mw = self.mask.shape
        ox, oy = box.origin0
        xs = np.floor((ox + (np.arange(w) + 0.5) * box.scale) / self.downsample[0]).astype(np.int64)
        ys = np.floor((oy + (np.arange(h) + 0.5) * box.scale) / self.downsample[1]).astype(np.int64)
        okx, oky = (xs >= 0) & (xs < mw), (ys >= 0) & (ys < mh)
        on = np.zeros((h, w), bool)
        on[np.ix_(oky, okx)] = np.asarray(self.mask, bool)[np.ix_(ys[oky], xs[okx])]
        img = np.zeros((h, w, 4), np.uint8)
        img[on] = self.colour
        return img


@dataclass(frozen=True, eq=False)
class PolygonPaint(OverlayLayer):
    """Shapely (multi)polygons in level-0 pixels (e.g. a pathologist's QuPath annotations), each outlined
    in its ``colours[i]`` RGB with a light fill; holes stay empty."""

    name: str
    geometries: tuple
    colours: tuple[tuple[int, int, int], ...]
    fill_alpha: int = 50
    line_px: int = 3

    def fingerprint(self) -> str:
        return _digest("poly", self.name, tuple(g.wkb_hex for g in self.geometries), self.colours,
                       self.fill_alpha, self.line_px)

    def render(self, box: TileBox) -> np.ndarray:
        from shapely.geometry import box as shapely_box

        w, h = box.size
        x0, y0, x1, y1 = box.bounds0()
        pad = (self.line_px + 1) * box.scale
        window = shapely_box(x0 - pad, y0 - pad, x1 + pad, y1 + pad)
        pil = Image.new("RGBA", (w, h))
        for geom, rgb in zip(self.geometries, self.colours):
            if not geom.intersects(window):
                continue
            part = geom.intersection(window)  # bounded by the tile, however large the annotation
            polys = getattr(part, "geoms", [part])
            fill = Image.new("L", (w, h))
            fd = ImageDraw.Draw(fill)
            lines = ImageDraw.Draw(pil)
            for poly in polys:
                if poly.geom_type != "Polygon" or poly.is_empty:
                    continue
                ext = _to_px(poly.exterior.coords, box)
                fd.polygon(ext, fill=self.fill_alpha)
                for ring in poly.interiors:
                    fd.polygon(_to_px(ring.coords, box), fill=0)
            pil.paste(Image.new("RGBA", (w, h), (*rgb, 255)), (0, 0), fill)
            for poly in polys:
                if poly.geom_type != "Polygon" or poly.is_empty:
                    continue
                for ring in (poly.exterior, *poly.interiors):
                    lines.line(_to_px(ring.coords, box), fill=(*rgb, 255), width=self.line_px)
        return np.asarray(pil).copy()


def _to_px(coords, box: TileBox) -> list[tuple[float, float]]:
    ox, oy = box.origin0
    return [((x - ox) / box.scale, (y - oy) / box.scale) for x, y in coords]
