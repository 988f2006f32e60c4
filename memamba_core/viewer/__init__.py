"""The deep-zoom slide viewer's library side: tiles, overlay layers, the tile server, ask-a-patch.

No streamlit here: the component lives in ``dashboard/components/slide_viewer``.
Coordinates are level-0 pixels, (x, y); the Deep Zoom geometry is written down
once in :mod:`memamba_core.viewer.deepzoom`.
"""

from .ask import BranchScore, PatchReport, ask_patch
from .deepzoom import OVERLAP, TILE_SIZE, SlideDeepZoom, TileBox, dz_scale
from .layers import MaskPaint, OverlayLayer, PatchPaint, PolygonPaint, patch_pixel_rects, render_png
from .layout import PatchLayout
from .overlays import (
    DEFAULT_COLORMAP,
    SCALINGS,
    attention_colours,
    attention_layer,
    grid_layer,
    polygon_layer,
    tissue_layer,
    topk_layer,
    transport_layer,
)
from .server import TileServer, dashboard_origins
from .service import Reply, TileService
from .workspace import (LAYER_NAMES, AnnotationReport, LayerSpec, annotation_report, slide_geojson,
                        slide_notes, transport_layers, workspace_layers)

__all__ = [
    "TILE_SIZE", "OVERLAP", "TileBox", "SlideDeepZoom", "dz_scale",
    "PatchLayout",
    "OverlayLayer", "PatchPaint", "MaskPaint", "PolygonPaint", "patch_pixel_rects", "render_png",
    "DEFAULT_COLORMAP", "SCALINGS", "attention_colours", "attention_layer", "transport_layer", "topk_layer",
    "grid_layer", "tissue_layer", "polygon_layer",
    "TileService", "Reply", "TileServer", "dashboard_origins",
    "BranchScore", "PatchReport", "ask_patch",
    "LayerSpec", "AnnotationReport", "LAYER_NAMES", "slide_notes", "workspace_layers", "transport_layers", "slide_geojson", "annotation_report",
]
