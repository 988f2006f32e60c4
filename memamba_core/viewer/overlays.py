"""The viewer's overlay layers, built from a model output and a slide's patches.

Every builder takes bag-level values — ``scores (N,)`` over all the patient's
patches, ``plan (N, G)`` — and the :class:`PatchLayout` of the slide shown, so
that scaling (percentile rank, min–max) and top-k ranks are over the whole
patient and agree between the slides of a multi-slide patient. Colours:
attention through a Matplotlib colour map (default ``viridis``, perceptually
uniform; ``jet`` for those used to CLAM), genomic groups through
:data:`memamba_core.viz.GROUP_PALETTE`. Layers are drawn opaque; their
opacity is set in the viewer.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..viz import COLORMAPS, group_colours, scale_scores, top_k
from .layers import MaskPaint, PatchPaint, PolygonPaint
from .layout import PatchLayout

__all__ = ["DEFAULT_COLORMAP", "SCALINGS", "attention_layer", "transport_layer", "topk_layer", "grid_layer",
           "tissue_layer", "polygon_layer", "attention_colours"]

DEFAULT_COLORMAP = "viridis"
SCALINGS = ("percentile", "raw")


def _finite(values, what: str, n: int | None = None) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().float().cpu().numpy()
    a = np.asarray(values, dtype=np.float64)
    if n is not None and a.shape[0] != n:
        raise InputError(f"{what}: {a.shape[0]} values for a bag of {n} patches; the model output and the bag differ.")
    if not np.isfinite(a).all():
        bad = np.flatnonzero(~np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1))
        raise InputError(f"{what}: {bad.size} patches have non-finite values (first: {bad[:5].tolist()}); "
                         f"the checkpoint or its inputs are broken — re-run the prediction.")
    return a


def _bag_size(layout: PatchLayout, values: np.ndarray) -> int:
    n = values.shape[0]
    if len(layout) and layout.index.max() >= n:
        raise InputError(f"slide {layout.slide_id}: patch rows up to {int(layout.index.max())} but only {n} values; "
                         f"the model output belongs to another bag.")
    return n


def attention_colours(scores, scaling: str = "percentile", cmap: str = DEFAULT_COLORMAP) -> np.ndarray:
    """(N, 4) uint8 RGBA colour of each patch's attention, scaled over all N (``"percentile"`` or ``"raw"``)."""
    import matplotlib

    if scaling not in SCALINGS:
        raise InputError(f"attention scale {scaling!r} is not one of {', '.join(SCALINGS)}.")
    if cmap not in COLORMAPS:
        raise InputError(f"colour map {cmap!r} is not one of {', '.join(COLORMAPS)}.")
    s = scale_scores(_finite(scores, "attention"), scaling)
    rgba = matplotlib.colormaps[COLORMAPS[cmap][0]](s)
    return np.round(np.asarray(rgba) * 255).astype(np.uint8)


def attention_layer(layout: PatchLayout, scores, scaling: str = "percentile", cmap: str = DEFAULT_COLORMAP,
                    name: str = "attention") -> PatchPaint:
    """Patches filled by their attention ``scores (N,)``; hotter patches painted last (on top at coarse zoom)."""
    s = _finite(scores, name)
    _bag_size(layout, s)
    colours = attention_colours(s, scaling, cmap)[layout.index]
    order = np.argsort(s[layout.index], kind="stable")
    return PatchPaint(f"{name}|{scaling}|{cmap}", layout.coords[order], layout.side0, fill=colours[order])


def transport_layer(layout: PatchLayout, plan, group: int | None = None, name: str = "transport") -> PatchPaint:
    """Patches coloured by the genomic group they send most mass to (``plan (N, G)``); only ``group``'s if given."""
    p = _finite(plan, name)
    if p.ndim != 2:
        raise InputError(f"{name}: the transport plan must be (N, G), got shape {p.shape}.")
    _bag_size(layout, p)
    g = p.shape[1]
    if group is not None and not 0 <= group < g:
        raise InputError(f"{name}: group {group} does not exist (the plan has {g} groups).")
    dom = p[layout.index].argmax(axis=1)
    keep = np.arange(len(layout)) if group is None else np.flatnonzero(dom == group)
    rgb = np.round(group_colours(g) * 255).astype(np.uint8)
    fill = np.concatenate([rgb[dom[keep]], np.full((keep.size, 1), 255, np.uint8)], axis=1)
    return PatchPaint(f"{name}|{'all' if group is None else group}", layout.coords[keep], layout.side0, fill=fill)


def topk_layer(layout: PatchLayout, scores, k: int = 10, colour=(255, 40, 40), name: str = "top-k") -> PatchPaint:
    """The ``k`` highest-scoring patches of the patient that lie on this slide, outlined, labelled with their rank."""
    s = _finite(scores, name)
    _bag_size(layout, s)
    best = top_k(s, k)                                   # bag rows, best first
    pos_of_row = {int(r): i for i, r in enumerate(layout.index)}
    hits = [(rank + 1, pos_of_row[int(r)]) for rank, r in enumerate(best) if int(r) in pos_of_row]
    pos = np.asarray([p for _, p in hits], np.int64)
    outline = np.tile(np.asarray((*colour, 255), np.uint8), (pos.size, 1))
    return PatchPaint(f"{name}|{k}", layout.coords[pos].reshape(-1, 2), layout.side0, outline=outline, outline_px=3,
                      labels=tuple(str(r) for r, _ in hits))


def grid_layer(layout: PatchLayout, colour=(30, 30, 30), name: str = "patch grid") -> PatchPaint:
    """Every patch outlined one pixel wide, drawn once a patch is at least 3 px wide on screen."""
    outline = np.tile(np.asarray((*colour, 255), np.uint8), (len(layout), 1))
    return PatchPaint(name, layout.coords, layout.side0, outline=outline, outline_px=1, min_outline_px=3)


def tissue_layer(mask, colour=(0, 170, 90), name: str = "tissue") -> MaskPaint:
    """The tissue mask (``memamba_core.slides.TissueMask``) as a layer."""
    return MaskPaint(name, np.asarray(mask.mask, bool), tuple(float(d) for d in mask.downsample), (*colour, 255))


def polygon_layer(geometries, colours, name: str = "annotations") -> PolygonPaint:
    """Shapely (multi)polygons in level-0 pixels, one RGB colour (0–255) each."""
    geoms = tuple(geometries)
    cols = tuple(tuple(int(v) for v in c) for c in colours)
    if len(geoms) != len(cols):
        raise InputError(f"{name}: {len(geoms)} geometries but {len(cols)} colours.")
    return PolygonPaint(name, geoms, cols)
