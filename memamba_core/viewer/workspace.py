"""The slide workspace of the Patient and Transport pages: what a page asks the library for, in one place.

A page shows one slide of a patient (its :class:`PatchLayout`, built from the
library's slide view) in the deep-zoom viewer; everything it draws or offers
comes from here, so it is unit-tested without Streamlit:

- :func:`slide_notes`: what the user should know about the slide file itself —
  no pyramid (zoomed-out views are computed from full-resolution pixels: slow),
  no resolution metadata (the scale is unknown), else its scale;
- :func:`workspace_layers`: the overlay layers (attention of the chosen branch,
  top-k outlines, the patch grid, the OT plan's dominant group when the model
  has one, imported annotations), each with its default opacity and visibility;
- :func:`transport_layers`: the Transport page's (the OT group layer and the grid);
- :func:`slide_geojson`: this slide's QuPath export as bytes (a download);
- :func:`annotation_report`: a pathologist's uploaded GeoJSON read against this
  slide (refused with a message naming the feature when it is not valid, or lies
  outside the slide) and the model's attention inside each annotated class.

Glossary: N patches in the patient's bag, n on the slide shown, G genomic groups.
Coordinates are level-0 pixels, (x, y).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..viz import group_colours
from .layers import OverlayLayer
from .layout import PatchLayout
from .overlays import DEFAULT_COLORMAP, attention_layer, grid_layer, polygon_layer, topk_layer, transport_layer

__all__ = ["LayerSpec", "AnnotationReport", "slide_notes", "workspace_layers", "transport_layers", "slide_geojson",
           "annotation_report", "LAYER_NAMES"]

#: Names of the workspace's layers as the viewer's layer panel shows them (stable across reruns, so a layer the
#: user switched off stays off).
LAYER_NAMES = {"attention": "attention", "top": "top-k", "grid": "patch grid", "transport": "OT group",
               "annotations": "annotations"}




@dataclass(frozen=True)
class LayerSpec:
    """One layer for the viewer: the drawable ``layer``, its panel ``name``, default ``opacity`` and ``visible``."""

    name: str
    layer: OverlayLayer
    opacity: float
    visible: bool = True


@dataclass
class AnnotationReport:
    """An uploaded annotation file held against the slide: ``n_annotations`` read, ``skipped`` notes (points,
    lines), ``table`` (one row per class, :data:`memamba_core.qupath.STATS_COLUMNS`) and ``layer`` (the areas,
    to draw on the viewer; None when the file has no annotation)."""

    source: str
    n_annotations: int
    skipped: list[str]
    table: object
    layer: OverlayLayer | None


def slide_notes(slide) -> list[str]:
    """Sentences about the slide file for the page: a missing pyramid (slow) and a missing scale (unknown).

    ``slide``: an open :class:`memamba_core.slides.Slide`. The pyramid is "missing" when its coarsest level is
    larger than what the tile reader keeps in memory (:attr:`memamba_core.slides.deepzoom.DeepZoomSource.KEEP_PIXELS`):
    each zoomed-out tile must then be computed from a large region of that level.
    """
    from ..slides.deepzoom import DeepZoomSource

    name = slide.path.name
    notes = []
    W, H = slide.dimensions
    cw, ch = slide.level_dimensions[-1]
    if cw * ch > DeepZoomSource.KEEP_PIXELS:
        what = (f"has no pyramid (one level of {W:,} × {H:,} px)" if slide.level_count == 1 else
                f"has a pyramid that stops at {cw:,} × {ch:,} px")
        notes.append(f"{name} {what}: every zoomed-out view is computed from that level, so the viewer is slow "
                     f"here and leaves the most zoomed-out views blank (zoom in to see the tissue). Save the slide as "
                     f"a pyramidal TIFF (e.g. `vips tiffsave in.tif out.tif --tile --pyramid --compression jpeg`) to "
                     f"view it smoothly.")
    if slide.mpp is None:
        notes.append(f"{name} has no resolution metadata (µm per pixel): the scale is unknown, so sizes are in "
                     f"level-0 pixels only; the patch grid is drawn where the feature file placed it.")
    return notes


def workspace_layers(layout: PatchLayout, attention: dict, key: str, *, scaling: str = "percentile",
                     cmap: str = DEFAULT_COLORMAP, k: int = 8, opacity: float = 0.5, plan=None,
                     group: int | None = None, annotations: OverlayLayer | None = None) -> list[LayerSpec]:
    """The viewer's layers for slide ``layout``, bottom to top.

    ``attention``: the model output's map (``key`` a ``pathology/<branch>`` → (N,)); ``scaling`` / ``cmap``: of the
    attention layer (over all N); ``k``: top-k outlined; ``opacity``: the attention layer's; ``plan``: (N, G) or None
    (no OT layer); ``group``: show only that group's patches in the OT layer; ``annotations``: an imported layer.
    The OT layer starts hidden (it covers the same patches as the attention).
    """
    if key not in attention:
        raise InputError(f"attention {key!r} is not in the model output (it has {', '.join(sorted(attention))}).")
    scores = attention[key]
    specs = [
        LayerSpec(LAYER_NAMES["attention"], attention_layer(layout, scores, scaling, cmap, name=key), float(opacity)),
    ]
    if plan is not None:
        specs.append(LayerSpec(LAYER_NAMES["transport"], transport_layer(layout, plan, group), 0.6,
                               visible=group is not None))
    specs.append(LayerSpec(LAYER_NAMES["grid"], grid_layer(layout), 0.5, visible=False))
    specs.append(LayerSpec(LAYER_NAMES["top"], topk_layer(layout, scores, k), 1.0))
    if annotations is not None:
        specs.append(LayerSpec(LAYER_NAMES["annotations"], annotations, 1.0))
    return specs


def transport_layers(layout: PatchLayout, plan, group: int | None = None) -> list[LayerSpec]:
    """The Transport page's layers: the OT plan's dominant group of each patch (only ``group``'s when given) and
    the patch grid (hidden)."""
    return [LayerSpec(LAYER_NAMES["transport"], transport_layer(layout, plan, group), 0.6),
            LayerSpec(LAYER_NAMES["grid"], grid_layer(layout), 0.5, visible=False)]


def slide_geojson(layout: PatchLayout, attention: dict, key: str, plan=None, group_names=(), k: int = 10) -> bytes:
    """This slide's QuPath GeoJSON (attention detections, top-k and OT-group annotations) as UTF-8 bytes."""
    from ..qupath import slide_collection

    coll = slide_collection(layout, attention, plan, tuple(group_names), k, key)
    return json.dumps(coll, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _colours(objects) -> list[tuple[int, int, int]]:
    """An RGB colour per annotation: its own (or its class's), else one per class from the group palette."""
    classes = list(dict.fromkeys(o.class_name or "Unclassified" for o in objects))
    palette = np.round(group_colours(max(len(classes), 1)) * 255).astype(int)
    return [o.colour or tuple(int(v) for v in palette[classes.index(o.class_name or "Unclassified")])
            for o in objects]


def annotation_report(layout: PatchLayout, scores, raw: bytes, source: str,
                      slide_size: tuple[int, int]) -> AnnotationReport:
    """Read an uploaded QuPath GeoJSON (``raw`` bytes named ``source``) against the slide of ``layout``.

    ``scores``: (N,) attention over the bag; ``slide_size``: the slide's level-0 (W, H) — annotations outside it
    belong to another slide and are refused. InputError (naming the feature and what is wrong) for a file that is
    not valid QuPath GeoJSON.
    """
    from ..qupath import attention_by_annotation, parse_qupath_bytes

    f = parse_qupath_bytes(raw, source, slide_size=tuple(int(v) for v in slide_size))
    anns = f.annotations()
    table = attention_by_annotation(layout, scores, anns)
    layer = polygon_layer([o.geometry for o in anns], _colours(anns), name=LAYER_NAMES["annotations"]) if anns else None
    return AnnotationReport(source, len(anns), list(f.skipped), table, layer)
