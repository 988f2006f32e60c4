"""The deep-zoom slide viewer as a Streamlit component (OpenSeadragon in a components-v1 iframe).

Usage on a page (layout only; everything else is library calls)::

    from components.slide_viewer import slide_viewer, tile_server
    from memamba_core.viewer import PatchLayout, attention_layer, ask_patch

    srv = tile_server()
    tok = srv.service.register_slide(cohort.slide_path(slide_id))
    layers = [viewer_layer(srv, tok, attention_layer(layout, out.attention["pathology/pool"]), opacity=0.5)]
    click = slide_viewer(srv.slide_url(tok), layers, key=f"viewer-{slide_id}")
    if click: report = ask_patch(layout, (click["x"], click["y"]), out.attention, out.transport_plan, names, slide)

The frontend is static (``frontend/``: index.html, viewer.js, the OpenSeadragon
6.1.1 build from the npm registry with its licence); nothing is fetched at run time.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

from memamba_core.viewer import OverlayLayer, TileServer, dashboard_origins

__all__ = ["slide_viewer", "viewer_layer", "tile_server", "FRONTEND"]

FRONTEND = Path(__file__).resolve().parent / "frontend"
_component = components.declare_component("slide_viewer", path=str(FRONTEND))


@st.cache_resource(show_spinner=False)
def tile_server() -> TileServer:
    """The dashboard process's one tile server on 127.0.0.1, accepting the dashboard's own origins."""
    return TileServer(origins=dashboard_origins(int(st.get_option("server.port"))))


def viewer_layer(server: TileServer, token: str, layer: OverlayLayer, *, opacity: float = 0.5,
                 visible: bool = True, name: str | None = None) -> dict:
    """Register ``layer`` over slide ``token`` and describe it for :func:`slide_viewer`."""
    key = server.service.register_overlay(token, layer)
    return {"name": name or layer.name, "url": server.overlay_url(key), "opacity": float(opacity),
            "visible": bool(visible)}


def slide_viewer(slide_url: str, layers=(), *, height: int = 600, key: str | None = None) -> dict | None:
    """Draw the viewer; returns the last click as ``{"x", "y", "seq"}`` (level-0 pixels) or None."""
    return _component(slide=slide_url, layers=list(layers), height=int(height), key=key, default=None)
