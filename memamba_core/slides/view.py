"""The slide view: which patches of a bag lie on one slide, where, and how large — the one owner.

Conventions (as everywhere in ``slides``): positions are level-0 pixels, (x, y), of a
patch's top-left corner; a patch is a square ``patch_size0`` level-0 pixels wide; a
thumbnail (or any zoom level of a viewer) shows level-0 pixel (x, y) at
``(x · scale, y · scale)``. Glossary: N patches in a bag, n on one slide; a bag may
span several slides (``bag.slide_index``), each with its own geometry
(``bag.geometry(i)``, :mod:`memamba_core.slides.geometry`).

Typical use (what the Patient and Transport pages do)::

    with open_cohort_slide(cohort, bag.slide_ids[i]) as slide:
        sp = slide_patches(bag, i, slide)            # None without coordinates
        scores = sp.values_of(out.attention["pathology/ranked"])   # (n,)
        thumb = slide.thumbnail(1024)
        scale = thumbnail_scale(thumb, slide.dimensions)
        heatmap_figure(thumb, sp.coords, scores, sp.patch_size0, scale)
        read_patch(slide, sp.coords[j], sp.patch_size0)            # full resolution

Patches lying wholly outside the slide are left out of ``index`` / ``coords`` and
reported in ``notes`` (how many, which slide); when every patch of the slide is
outside, :func:`slide_patches` raises :class:`InputError` — the coordinates belong to
another slide, or are not level-0 pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

import numpy as np

from ..errors import InputError
from .geometry import PatchGeometry

if TYPE_CHECKING:
    from PIL import Image

    from ..data.bags import Bag
    from .reader import Slide

__all__ = ["SlidePatches", "slide_patches", "thumbnail_scale", "attention_keys", "to_numpy", "DEFAULT_PATCH_SIZE0"]

DEFAULT_PATCH_SIZE0 = 256  # level-0 side assumed only when a file records nothing and has one patch (CLAM's default)


@dataclass(frozen=True)
class SlidePatches:
    """The patches of one slide of a bag, ready to draw.

    ``index`` (n,) int64 rows of the bag; ``coords`` (n, 2) int64 level-0 (x, y) top-left;
    ``patch_size0`` the patch side in level-0 pixels (this slide's own); ``geometry`` what
    the slide's feature file says; ``level0_size`` the slide's ``(W, H)``; ``outside`` (m,)
    int64 bag rows of this slide whose patch lies wholly outside it (not in ``index``);
    ``notes`` sentences about what was assumed or left out, for the page.
    """

    slide_id: str
    slide_pos: int
    index: np.ndarray
    coords: np.ndarray
    patch_size0: float
    geometry: PatchGeometry
    level0_size: tuple[int, int]
    outside: np.ndarray
    notes: tuple[str, ...] = ()
    n_bag: int = 0   # N, patches in the whole bag (what ``values_of`` expects)

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def values_of(self, per_patch) -> np.ndarray:
        """This slide's rows of a per-patch array of the whole bag: (N, ...) → (n, ...) float.

        ``per_patch`` is a tensor or array with one row per bag patch (attention (N,), a
        transport plan (N, G)); ValueError when its length is not the bag's.
        """
        a = to_numpy(per_patch)
        if a.ndim == 0 or a.shape[0] != self.n_bag:
            raise ValueError(f"expected one value per patch of the bag ({self.n_bag}), got shape {a.shape}.")
        return a[self.index]


def slide_patches(bag: "Bag", slide_pos: int, slide: "Slide") -> SlidePatches | None:
    """The patches of slide ``slide_pos`` of ``bag``, placed on the open ``slide``; None without coordinates.

    The patch side comes from that slide's own geometry, resolved with the slide's
    downsamples when the feature file gives it at a level (a guess is said in ``notes``).
    Raises :class:`InputError` naming the slide when the file's patch level is not one of
    the slide's levels, or when none of its patches lies on the slide.
    """
    if bag is None or bag.coords is None:
        return None
    geom = bag.geometry(slide_pos)
    sid = bag.slide_ids[slide_pos]
    where = f"slide {sid} ({slide.path.name})"
    W, H = slide.dimensions
    notes: list[str] = []
    side = geom.side0(slide.level_downsamples, slide=where)
    if side is None:  # one patch and no attributes: nothing says how large it is
        side = float(DEFAULT_PATCH_SIZE0)
        notes.append(f"{where}: the feature file does not record the patch size and has a single patch; "
                     f"it is drawn {side:g} level-0 px wide (CLAM's default), which may be wrong.")
    elif geom.size0 is None and geom.patch_size is None:
        notes.append(f"{where}: the feature file does not record the patch size; "
                     f"{side:g} level-0 px is taken from the spacing of its coordinates.")
    if geom.level0_size is not None and tuple(geom.level0_size) != (W, H):
        notes.append(f"{where}: the features were cut from a slide of {geom.level0_size[0]} × {geom.level0_size[1]} px, "
                     f"this file is {W} × {H} px; they may belong to another scan of the slide.")
    rows = bag.rows(slide_pos)
    c = np.asarray(bag.coords)[rows]
    off = (c[:, 0] >= W) | (c[:, 1] >= H) | (c[:, 0] + side <= 0) | (c[:, 1] + side <= 0)
    n_off = int(off.sum())
    if n_off and n_off == rows.size:
        raise InputError(
            f"{where}: all {n_off} patch coordinates lie outside the slide ({W} × {H} level-0 px; "
            f"x from {int(c[:, 0].min())} to {int(c[:, 0].max())}, y from {int(c[:, 1].min())} to {int(c[:, 1].max())}); "
            f"the feature file belongs to another slide or its coordinates are not level-0 pixels — "
            f"re-extract the features from this slide (memamba extract)."
        )
    if n_off:
        notes.append(f"{where}: {n_off} of {rows.size} patches lie outside the slide ({W} × {H} level-0 px) "
                     f"and are not drawn; the feature file may not match this slide.")
    return SlidePatches(
        slide_id=sid, slide_pos=slide_pos, index=rows[~off], coords=c[~off].astype(np.int64), patch_size0=float(side),
        geometry=geom, level0_size=(int(W), int(H)), outside=rows[off], notes=tuple(notes), n_bag=bag.n_patches,
    )


def thumbnail_scale(thumbnail: "Image.Image | tuple[int, int]", level0_size: tuple[int, int]) -> float:
    """Thumbnail px per level-0 px: the mean of the x and y ratios (a thumbnail keeps the aspect ratio).

    ``thumbnail``: the image or its ``(w, h)``; ``level0_size``: the slide's ``(W, H)``.
    """
    w, h = thumbnail if isinstance(thumbnail, (tuple, list)) else thumbnail.size
    w0, h0 = level0_size
    if min(w, h, w0, h0) <= 0:
        raise ValueError(f"sizes must be positive, got thumbnail {(w, h)} and level 0 {(w0, h0)}.")
    return 0.5 * (w / w0 + h / h0)


def attention_keys(attention: Mapping, prefix: str = "pathology/") -> list[str]:
    """Names of the attention maps under ``prefix`` in a model output (``pathology/<branch>`` are over patches), sorted."""
    return sorted(k for k in attention if k.startswith(prefix))


def to_numpy(t) -> np.ndarray:
    """A torch tensor (any device, any dtype) or array-like → float64 numpy array."""
    if hasattr(t, "detach"):
        t = t.detach().float().cpu().numpy()
    return np.asarray(t, dtype=float)
