"""Slide thumbnail with per-patch values drawn over it (attention heatmaps, transport groups).

Coordinates are level-0 pixels, (x, y), of each patch's top-left corner;
``patch_size`` is the patch side in level-0 pixels (CLAM's ``patch_size`` at
``patch_level`` times that level's downsample). The overlay is composited
into the thumbnail pixels (crisp at any N); a transparent scatter of patch
centres on top carries hover text and click/box selection, each point's
``customdata`` being the patch index (0..N-1).
"""

from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from .text import plain_label

__all__ = [
    "COLORMAPS",
    "scale_scores",
    "overlay_rgba",
    "overlay_image",
    "image_source",
    "heatmap_figure",
    "slide_points_figure",
    "selected_patch",
]

#: Colour maps offered for heatmaps: name → (matplotlib name, Plotly colorscale).
COLORMAPS = {
    "jet": ("jet", "Jet"),
    "viridis": ("viridis", "Viridis"),
    "inferno": ("inferno", "Inferno"),
    "magma": ("magma", "Magma"),
    "turbo": ("turbo", "Turbo"),
    "coolwarm": ("coolwarm", "RdBu_r"),
}

#: Thumbnail dimension above which hover points are drawn with WebGL.
_GL_POINTS = 4000


def scale_scores(scores, scaling: str = "percentile") -> np.ndarray:
    """Map scores (N,) to [0, 1]: ``"raw"`` min–max of the values, ``"percentile"`` their rank.

    Percentile scaling (CLAM's heatmap convention) spreads colours evenly even
    when attention is concentrated on a few patches. Constant scores map to 0.5.
    """
    s = np.asarray(scores, dtype=float).reshape(-1)
    if s.size == 0:
        return s
    if scaling == "percentile":
        if s.size == 1:
            return np.full(1, 0.5)
        ranks = s.argsort(kind="stable").argsort(kind="stable")
        return ranks / (s.size - 1)
    if scaling != "raw":
        raise ValueError(f"scaling must be 'raw' or 'percentile', got {scaling!r}")
    lo, hi = np.nanmin(s), np.nanmax(s)
    return np.full_like(s, 0.5) if hi - lo <= 0 else (s - lo) / (hi - lo)


def _boxes(coords: np.ndarray, patch_size: float, scale: float, shape: tuple[int, int]) -> np.ndarray:
    """Patch rectangles in thumbnail pixels, (N, 4) as x0, y0, x1, y1 clipped to ``shape`` (h, w)."""
    h, w = shape
    x0 = np.floor(coords[:, 0] * scale).astype(int)
    y0 = np.floor(coords[:, 1] * scale).astype(int)
    side = max(int(np.ceil(patch_size * scale)), 1)
    return np.stack([np.clip(x0, 0, w), np.clip(y0, 0, h), np.clip(x0 + side, 0, w), np.clip(y0 + side, 0, h)], 1)


def overlay_rgba(shape: tuple[int, int], coords, patch_size: float, scale: float, colours, alpha) -> np.ndarray:
    """Paint patches into an (h, w, 4) uint8 RGBA layer.

    ``coords (N, 2)`` level-0 (x, y); ``scale`` = thumbnail px per level-0 px;
    ``colours (N, 3)`` in [0, 1]; ``alpha`` scalar or (N,) in [0, 1]. Later
    patches paint over earlier ones where they overlap.
    """
    layer = np.zeros((shape[0], shape[1], 4), dtype=np.uint8)
    coords = np.asarray(coords, dtype=float).reshape(-1, 2)
    cols = (np.clip(np.asarray(colours, dtype=float), 0, 1) * 255).astype(np.uint8)
    a = np.broadcast_to(np.clip(np.asarray(alpha, dtype=float), 0, 1) * 255, (coords.shape[0],)).astype(np.uint8)
    for (x0, y0, x1, y1), c, al in zip(_boxes(coords, patch_size, scale, shape), cols, a):
        layer[y0:y1, x0:x1, :3] = c
        layer[y0:y1, x0:x1, 3] = al
    return layer


def overlay_image(thumbnail: Image.Image, layer: np.ndarray) -> Image.Image:
    """Alpha-composite an RGBA ``layer`` (h, w, 4) over ``thumbnail`` (same size); returns RGB."""
    base = thumbnail.convert("RGBA")
    return Image.alpha_composite(base, Image.fromarray(layer, "RGBA")).convert("RGB")


def image_source(img: Image.Image, quality: int = 90) -> str:
    """``img`` as a JPEG data URI: what the browser gets (far smaller and faster than a pixel array)."""
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _image_figure(img: Image.Image, height: int | None) -> go.Figure:
    fig = go.Figure(go.Image(source=image_source(img), hoverinfo="skip", name="slide"))
    w, h = img.size
    fig.update_xaxes(visible=False, range=[0, w], constrain="domain")
    fig.update_yaxes(visible=False, range=[h, 0], scaleanchor="x", constrain="domain")
    fig.update_layout(
        template="plotly_white", margin=dict(l=0, r=0, t=30, b=0), height=height or min(720, max(320, int(h * 640 / max(w, 1)))),
    )
    return fig


def _points(coords, patch_size, scale, text, values=None, colorscale=None, title=None):
    centres = (np.asarray(coords, dtype=float) + patch_size / 2.0) * scale
    cls = go.Scattergl if centres.shape[0] > _GL_POINTS else go.Scatter
    marker = dict(size=max(6, min(18, patch_size * scale)), symbol="square", opacity=0.0)
    if values is not None:
        marker.update(color=values, colorscale=colorscale, cmin=0, cmax=1, showscale=True,
                      colorbar=dict(title=title, thickness=12, len=0.8))
    return cls(
        x=centres[:, 0], y=centres[:, 1], mode="markers", marker=marker,
        customdata=np.arange(centres.shape[0]), text=text, hovertemplate="%{text}<extra></extra>", name="patches",
        selected=dict(marker=dict(opacity=0.9, color="#00e5ff")), unselected=dict(marker=dict(opacity=0.0)),
    )


def heatmap_figure(
    thumbnail: Image.Image,
    coords,
    scores,
    patch_size: float,
    scale: float,
    *,
    opacity: float = 0.5,
    colormap: str = "jet",
    scaling: str = "percentile",
    title: str = "Attention",
    height: int | None = None,
) -> tuple[go.Figure, Image.Image]:
    """Attention heatmap over a slide thumbnail.

    ``coords (N, 2)`` level-0 (x, y) top-left; ``scores (N,)``; ``scale``:
    thumbnail px per level-0 px. Returns the figure (image + clickable patch
    points, ``customdata`` = patch index, with a colour bar) and the composited
    RGB image (for reports).
    """
    import matplotlib

    if colormap not in COLORMAPS:
        raise ValueError(f"colormap must be one of {', '.join(COLORMAPS)}")
    s = np.asarray(scores, dtype=float).reshape(-1)
    v = scale_scores(s, scaling)
    cmap = matplotlib.colormaps[COLORMAPS[colormap][0]]
    img = overlay_image(thumbnail, overlay_rgba(thumbnail.size[::-1], coords, patch_size, scale, cmap(v)[:, :3], opacity))
    rank = (-s).argsort(kind="stable").argsort(kind="stable") + 1
    c = np.asarray(coords).reshape(-1, 2)
    text = [f"patch {i} · rank {r}/{s.size}<br>score {x:.4g} · x={cx}, y={cy}" for i, (r, x, (cx, cy)) in enumerate(zip(rank, s, c))]
    fig = _image_figure(img, height)
    fig.add_trace(_points(c, patch_size, scale, text, v, COLORMAPS[colormap][1], "percentile" if scaling == "percentile" else "scaled"))
    fig.update_layout(title=dict(text=plain_label(title), font=dict(size=14)))  # slide ids come from cohort files
    return fig, img


def slide_points_figure(
    thumbnail: Image.Image,
    coords,
    colours,
    patch_size: float,
    scale: float,
    *,
    alpha=0.6,
    text=None,
    title: str = "",
    height: int | None = None,
) -> go.Figure:
    """Patches painted with given ``colours (N, 3)`` in [0, 1] and ``alpha`` (scalar or (N,)) over the thumbnail."""
    img = overlay_image(thumbnail, overlay_rgba(thumbnail.size[::-1], coords, patch_size, scale, colours, alpha))
    fig = _image_figure(img, height)
    c = np.asarray(coords).reshape(-1, 2)
    text = [plain_label(t) for t in text] if text is not None else [f"patch {i}" for i in range(c.shape[0])]
    fig.add_trace(_points(c, patch_size, scale, text))
    fig.update_layout(title=dict(text=plain_label(title), font=dict(size=14)))  # names from cohort files, shown literally
    return fig


def selected_patch(event, n: int) -> int | None:
    """The patch index (0..n-1) of the first selected point of a Plotly selection ``event`` on these figures.

    Reads the point's ``customdata`` (the patch index the figures attach), else its
    ``point_index``; None when nothing valid is selected. ``event`` is Streamlit's
    ``st.plotly_chart(..., on_select="rerun")`` return value (a dict or an attribute object).
    """
    if not event:
        return None
    sel = event.get("selection", {}) if isinstance(event, dict) else getattr(event, "selection", {})
    for p in (sel.get("points", []) if isinstance(sel, dict) else getattr(sel, "points", [])):
        cd = p.get("customdata")
        val = cd[0] if isinstance(cd, (list, tuple)) and cd else cd
        if val is None:
            val = p.get("point_index")
        if val is not None and 0 <= int(val) < n:
            return int(val)
    return None
