"""Opening whole-slide images: one :func:`open_slide` over OpenSlide and TiffSlide.

Coordinate convention (used by every module of ``slides``, ``features`` and
the ``.h5`` files they write): positions are **level-0 pixels, (x, y)** —
x to the right, y down, origin at the top-left corner of the full-resolution
image. Sizes are ``(w, h)``. Level ``k`` has downsample ``level_downsamples[k]``
(level-0 pixels per level-k pixel). Numpy images are ``(h, w, 3)`` uint8 RGB.

Backends: OpenSlide is preferred when importable (it reads the vendor formats),
TiffSlide is the fallback (pure Python, TIFF-based formats). Either may be
absent. Both give the same pixels for the TIFF slides this project writes.
Any failure to open or read a file is an :class:`~memamba_core.errors.InputError`
naming the file.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import InputError
from ..formats import SLIDE_EXTENSIONS

__all__ = ["Slide", "open_slide", "available_backends", "BACKENDS", "SLIDE_EXTENSIONS"]

BACKENDS = ("openslide", "tiffslide")
_BACKGROUND = (255, 255, 255)  # colour of pixels outside the image or transparent in the file


def _import_backend(name: str):
    """The backend module, or None when it cannot be imported (missing package or C library)."""
    try:
        if name == "openslide":
            import openslide

            return openslide
        import tiffslide

        return tiffslide
    except (ImportError, OSError):
        return None


def available_backends() -> tuple[str, ...]:
    """Backends importable here, in order of preference."""
    return tuple(b for b in BACKENDS if _import_backend(b) is not None)


def _float_or_none(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and f > 0 else None


class Slide:
    """An open whole-slide image. Use as a context manager or call :meth:`close`.

    Attributes
    ----------
    path: the file.
    backend: ``"openslide"`` or ``"tiffslide"``.
    dimensions: ``(w, h)`` of level 0.
    level_dimensions: ``((w, h), ...)`` per level, level 0 first.
    level_downsamples: level-0 pixels per level-k pixel, per level.
    mpp: ``(mpp_x, mpp_y)`` micrometres per level-0 pixel, or None when the file does not say.
    properties: the backend's metadata, as a plain dict of strings.
    """

    def __init__(self, path: Path, backend: str, handle) -> None:
        self.path = path
        self.backend = backend
        self._h = handle
        self.level_dimensions: tuple[tuple[int, int], ...] = tuple(
            (int(w), int(h)) for w, h in handle.level_dimensions
        )
        self.level_downsamples: tuple[float, ...] = tuple(float(d) for d in handle.level_downsamples)
        self.dimensions: tuple[int, int] = self.level_dimensions[0]
        self.properties: dict[str, str] = {str(k): str(v) for k, v in dict(handle.properties).items()}
        mx = _float_or_none(self.properties.get(f"{backend}.mpp-x"))
        my = _float_or_none(self.properties.get(f"{backend}.mpp-y"))
        self.mpp: tuple[float, float] | None = (mx, my if my else mx) if mx else None

    # -- basic geometry ---------------------------------------------------------------------
    @property
    def level_count(self) -> int:
        return len(self.level_dimensions)

    def best_level_for_downsample(self, downsample: float) -> int:
        """The coarsest level whose downsample is at most ``downsample`` (level 0 if none is).

        Same rule as OpenSlide (a level is accepted with 0.1 % tolerance), computed here so that
        both backends agree.
        """
        best = 0
        for k, d in enumerate(self.level_downsamples):
            if d <= downsample * 1.001:
                best = k
        return best

    # -- pixels -------------------------------------------------------------------------------
    def read_array(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> np.ndarray:
        """Pixels of a region: ``(h, w, 3)`` uint8 RGB.

        ``location`` is the top-left corner in level-0 (x, y); ``size`` is ``(w, h)`` in level-``level``
        pixels. Parts outside the image (and transparent pixels) are white.
        """
        x, y = int(location[0]), int(location[1])
        w, h = int(size[0]), int(size[1])
        if not 0 <= level < self.level_count:
            raise InputError(f"{self.path}: level {level} does not exist; this slide has levels 0..{self.level_count - 1}.")
        if w <= 0 or h <= 0:
            raise InputError(f"{self.path}: region size must be positive, got (w, h) = ({w}, {h}).")
        ds = self.level_downsamples[level]
        lw, lh = self.level_dimensions[level]
        if x >= 0 and y >= 0 and (x / ds) + w <= lw + 1e-9 and (y / ds) + h <= lh + 1e-9:
            a = _to_rgb(self._read((x, y), level, (w, h)))         # wholly inside: no padding needed
            return a if a.flags.writeable else a.copy()
        out = np.full((h, w, 3), _BACKGROUND, dtype=np.uint8)
        # intersection with the level, in level pixels relative to the request
        x0l, y0l = x / ds, y / ds
        ix0, iy0 = max(0, math.ceil(-x0l - 1e-9)), max(0, math.ceil(-y0l - 1e-9))
        ix1, iy1 = min(w, int(math.floor(lw - x0l + 1e-9))), min(h, int(math.floor(lh - y0l + 1e-9)))
        if ix1 <= ix0 or iy1 <= iy0:
            return out
        loc = (x + int(round(ix0 * ds)), y + int(round(iy0 * ds)))
        out[iy0:iy1, ix0:ix1] = _to_rgb(self._read(loc, level, (ix1 - ix0, iy1 - iy0)))
        return out

    def _read(self, loc: tuple[int, int], level: int, size: tuple[int, int]) -> Image.Image:
        if self._h is None:
            raise InputError(f"{self.path}: the slide was closed; open it again (open_slide) to read it.")
        try:
            return self._h.read_region(loc, level, size)
        except Exception as err:  # backend-specific errors (OpenSlideError, TiffFileError, ...)
            raise InputError(
                f"{self.path}: cannot read region at level-0 (x, y) = {loc}, level {level} ({type(err).__name__}: {err}); "
                f"the file may be truncated or corrupt — re-export or re-copy the slide."
            ) from err

    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> Image.Image:
        """Like :meth:`read_array`, as an RGB PIL image of size ``(w, h)``."""
        return Image.fromarray(self.read_array(location, level, size), mode="RGB")

    def thumbnail(self, max_size: int | tuple[int, int] = 1024) -> Image.Image:
        """The whole slide as an RGB image fitting in ``max_size`` (an int is a square box).

        Read from the coarsest level that is at least as large as the result, then resized
        with a box filter, so it is the same for both backends.
        """
        mw, mh = (max_size, max_size) if isinstance(max_size, int) else (int(max_size[0]), int(max_size[1]))
        if mw <= 0 or mh <= 0:
            raise InputError(f"{self.path}: thumbnail size must be positive, got {max_size!r}.")
        W, H = self.dimensions
        scale = min(mw / W, mh / H)
        tw, th = max(1, round(W * scale)), max(1, round(H * scale))
        level = self.best_level_for_downsample(1.0 / scale)
        lw, lh = self.level_dimensions[level]
        img = self.read_region((0, 0), level, (lw, lh))
        return img if (lw, lh) == (tw, th) else img.resize((tw, th), Image.Resampling.BOX)

    # -- lifetime -----------------------------------------------------------------------------
    def close(self) -> None:
        if self._h is not None:
            self._h.close()
            self._h = None

    def __enter__(self) -> "Slide":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"Slide({self.path.name!r}, backend={self.backend!r}, dimensions={self.dimensions}, "
            f"levels={self.level_count}, mpp={self.mpp})"
        )


def _to_rgb(img: Image.Image) -> np.ndarray:
    """(h, w, 3) uint8 from a backend image; RGBA is composited on white (OpenSlide's premultiplied alpha)."""
    if img.mode == "RGB":
        return np.asarray(img)
    if img.mode == "RGBA":
        a = np.asarray(img)
        alpha = a[..., 3:4].astype(np.uint16)
        if alpha.min() == 255:
            return np.ascontiguousarray(a[..., :3])
        # OpenSlide returns premultiplied ARGB: colour + (255 - alpha) * white
        rgb = a[..., :3].astype(np.uint16) + (255 - alpha)
        return np.minimum(rgb, 255).astype(np.uint8)
    return np.asarray(img.convert("RGB"))


def _open_with(name: str, module, path: Path):
    if name == "openslide":
        return module.OpenSlide(str(path))
    return module.TiffSlide(str(path))


def open_slide(path: str | Path, backend: str = "auto") -> Slide:
    """Open a whole-slide image.

    ``backend``: ``"auto"`` (OpenSlide if importable and it opens the file, else TiffSlide),
    ``"openslide"`` or ``"tiffslide"``. The file is checked by reading one pixel of the
    coarsest level's last row, so a truncated file fails here rather than mid-way.

    Raises :class:`InputError` naming the file when it is missing, not a slide, in a format
    no available backend opens, or truncated.
    """
    p = Path(path).expanduser()
    if backend not in ("auto",) + BACKENDS:
        raise InputError(f"{p}: unknown slide backend {backend!r}; use 'auto', 'openslide' or 'tiffslide'.")
    if not p.is_file():
        raise InputError(f"{p}: no such slide file; check the path (slides go in the cohort's slides/ folder).")
    names = BACKENDS if backend == "auto" else (backend,)
    tried: list[str] = []
    for name in names:
        module = _import_backend(name)
        if module is None:
            tried.append(f"{name}: not installed")
            continue
        try:
            handle = _open_with(name, module, p)
        except Exception as err:  # each backend raises its own types for unknown / broken files
            tried.append(f"{name}: {type(err).__name__}: {err}")
            continue
        try:
            slide = Slide(p, name, handle)
            _check_readable(slide)
        except InputError as err:
            handle.close()
            tried.append(f"{name}: {err}")
            continue
        except Exception as err:
            handle.close()
            tried.append(f"{name}: {type(err).__name__}: {err}")
            continue
        return slide
    detail = "; ".join(tried) if tried else "no backend available"
    raise InputError(
        f"{p}: not a readable whole-slide image ({detail}). Give a pyramidal slide that OpenSlide or TiffSlide "
        f"opens (.svs, .tif, .ndpi, .mrxs, ...); a truncated copy must be copied again."
    )


def _check_readable(slide: Slide) -> None:
    if not slide.level_dimensions or min(min(d) for d in slide.level_dimensions) <= 0:
        raise InputError(f"{slide.path}: the slide reports an empty level ({slide.level_dimensions}).")
    k = slide.level_count - 1
    w, h = slide.level_dimensions[k]
    ds = slide.level_downsamples[k]
    # last pixel of the coarsest level, then of level 0: the tiles written last in most files
    slide.read_array((int((w - 1) * ds), int((h - 1) * ds)), k, (1, 1))
    W, H = slide.dimensions
    slide.read_array((W - 1, H - 1), 0, (1, 1))
