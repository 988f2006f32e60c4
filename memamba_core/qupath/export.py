"""QuPath GeoJSON of a slide's model output: attention per patch, top-k patches, OT groups.

The format is QuPath's own (v0.4+, ``File → Export objects as GeoJSON`` /
``Import objects``): a ``FeatureCollection`` of ``Feature`` s whose ``geometry``
is a GeoJSON polygon in **level-0 pixels** (origin top-left of the
full-resolution image, x right, y down) and whose ``properties`` hold
``objectType`` (``"detection"`` or ``"annotation"``), ``name``, ``color``
``[r, g, b]``, ``classification`` ``{"name", "color"}`` and ``measurements``
(a name → number map). Feature ``id`` s are UUIDs (as QuPath writes), derived
from the slide, the kind and the patch, so an export is reproducible.

- **Attention map**: one detection per patch (a square of the patch's level-0
  side) coloured by its attention in the chosen branch; measurements
  ``attention <branch>`` for every branch, ``patch row`` (its row in the bag)
  and, with a plan, ``OT group`` (index) and ``OT mass``; its classification is
  its OT group (so QuPath can show or count one group), else ``attention``.
- **Top-k**: the k most attended patches of the patient on this slide as
  annotations named ``top <rank>``, class ``Top attention``.
- **OT groups**: one annotation per genomic group, the union of the patches
  that send it most mass (a MultiPolygon), with ``patches`` and ``mass``.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
from shapely.geometry import box, mapping
from shapely.ops import unary_union

from ..errors import InputError
from ..paths import atomic_write_text
from ..viewer import PatchLayout, attention_colours
from ..viz import group_colours, top_k

__all__ = ["attention_features", "topk_features", "group_features", "slide_collection", "write_geojson",
           "TOP_CLASS", "ATTENTION_CLASS"]

TOP_CLASS = "Top attention"
ATTENTION_CLASS = "attention"
_NS = uuid.UUID("6f1c7a52-58b9-4f8e-9d0e-2f8a3c1d9b70")   # namespace of this project's feature ids
_TOP_RGB = (220, 30, 30)


def _fid(slide_id: str, kind: str, i) -> str:
    return str(uuid.uuid5(_NS, f"{slide_id}|{kind}|{i}"))


def _square(x: float, y: float, s: float) -> dict:
    return mapping(box(float(x), float(y), float(x) + s, float(y) + s))


def _rgb(c) -> list[int]:
    return [int(v) for v in c[:3]]


def _np(v) -> np.ndarray:
    if hasattr(v, "detach"):
        v = v.detach().float().cpu().numpy()
    a = np.asarray(v, dtype=np.float64)
    if not np.isfinite(a).all():
        raise InputError("the model output holds non-finite values; nothing exported — re-run the prediction.")
    return a


def _branch(key: str) -> str:
    return key.split("/", 1)[1] if "/" in key else key


def attention_features(layout: PatchLayout, attention: dict, colour_key: str = "pathology/pool", plan=None,
                       group_names=(), scaling: str = "percentile", cmap: str = "viridis") -> list[dict]:
    """One QuPath detection per patch of ``layout``; ``attention`` maps ``pathology/<branch>`` → (N,) over the bag."""
    keys = sorted(k for k in attention if k.startswith("pathology/"))
    if colour_key not in keys:
        raise InputError(f"attention branch {colour_key!r} is not in the model output (it has {', '.join(keys) or 'none'}).")
    vals = {k: _np(attention[k]).reshape(-1) for k in keys}
    colours = attention_colours(vals[colour_key], scaling, cmap)
    dom = mass = names = gcol = None
    if plan is not None:
        p = _np(plan)
        dom = p.argmax(axis=1)
        mass = p[np.arange(p.shape[0]), dom]
        names = list(group_names) or [f"group {j}" for j in range(p.shape[1])]
        gcol = np.round(group_colours(p.shape[1]) * 255).astype(int)
    feats = []
    for pos, row in enumerate(layout.index):
        x, y = layout.coords[pos]
        m = {f"attention {_branch(k)}": float(v[row]) for k, v in vals.items()}
        m["patch row"] = int(row)
        cls = {"name": ATTENTION_CLASS, "color": _rgb(colours[row])}
        if dom is not None:
            m["OT group"] = int(dom[row])
            m["OT mass"] = float(mass[row])
            cls = {"name": names[dom[row]], "color": _rgb(gcol[dom[row]])}
        feats.append({
            "type": "Feature", "id": _fid(layout.slide_id, "patch", int(row)), "geometry": _square(x, y, layout.side0),
            "properties": {"objectType": "detection", "name": f"patch {int(row)}", "color": _rgb(colours[row]),
                           "classification": cls, "measurements": m},
        })
    return feats


def topk_features(layout: PatchLayout, scores, k: int = 10) -> list[dict]:
    """The ``k`` most attended patches of the patient that lie on this slide, as annotations ``top <rank>``."""
    s = _np(scores).reshape(-1)
    on_slide = {int(r): pos for pos, r in enumerate(layout.index)}
    feats = []
    for rank, row in enumerate(top_k(s, k), start=1):
        pos = on_slide.get(int(row))
        if pos is None:
            continue
        x, y = layout.coords[pos]
        feats.append({
            "type": "Feature", "id": _fid(layout.slide_id, "top", int(row)), "geometry": _square(x, y, layout.side0),
            "properties": {"objectType": "annotation", "name": f"top {rank}", "color": list(_TOP_RGB),
                           "classification": {"name": TOP_CLASS, "color": list(_TOP_RGB)},
                           "measurements": {"rank": rank, "attention": float(s[row]), "patch row": int(row)}},
        })
    return feats


def group_features(layout: PatchLayout, plan, group_names=()) -> list[dict]:
    """One annotation per genomic group: the union of this slide's patches sending it most mass."""
    p = _np(plan)
    names = list(group_names) or [f"group {j}" for j in range(p.shape[1])]
    if len(names) != p.shape[1]:
        raise InputError(f"{len(names)} group names for a plan over {p.shape[1]} groups.")
    gcol = np.round(group_colours(p.shape[1]) * 255).astype(int)
    rows = p[layout.index]
    dom = rows.argmax(axis=1) if len(layout) else np.zeros(0, int)
    feats = []
    for g, name in enumerate(names):
        pos = np.flatnonzero(dom == g)
        if pos.size == 0:
            continue
        shape = unary_union([box(x, y, x + layout.side0, y + layout.side0) for x, y in layout.coords[pos]])
        feats.append({
            "type": "Feature", "id": _fid(layout.slide_id, "group", g), "geometry": mapping(shape),
            "properties": {"objectType": "annotation", "name": f"OT {name}", "color": _rgb(gcol[g]),
                           "classification": {"name": name, "color": _rgb(gcol[g])},
                           "measurements": {"patches": int(pos.size), "mass": float(rows[pos, g].sum()),
                                            "OT group": g}},
        })
    return feats


def slide_collection(layout: PatchLayout, attention: dict, plan=None, group_names=(), k: int = 10,
                     colour_key: str = "pathology/pool") -> dict:
    """The whole export of one slide: attention detections, top-k and OT-group annotations."""
    feats = attention_features(layout, attention, colour_key, plan, group_names)
    feats += topk_features(layout, attention[colour_key], k)
    if plan is not None:
        feats += group_features(layout, plan, group_names)
    return {"type": "FeatureCollection", "features": feats}


def write_geojson(path: str | Path, collection: dict) -> Path:
    """Write a FeatureCollection atomically (compact JSON; QuPath reads it as is)."""
    p = Path(path)
    atomic_write_text(p, json.dumps(collection, separators=(",", ":"), allow_nan=False))
    return p
