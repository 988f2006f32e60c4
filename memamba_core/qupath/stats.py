"""How the model's attention divides between inside and outside a pathologist's annotated classes.

For each annotated class (the union of its annotations on the slide), a patch
is **inside** when its centre lies in that region (boundary included). Over the
slide's n patches, with attention ``a_i`` (the branch chosen, over the bag):

- ``patch share``: fraction of the slide's patches inside (what attention
  spread evenly would put there);
- ``attention share``: Σ_inside a_i / Σ a_i, the share of the slide's attention
  mass inside; ``enrichment`` = attention share / patch share (1 = no preference);
- ``AUROC``: the probability that a random inside patch has more attention than
  a random outside one (ties count ½) — 1 = attention finds the region, 0.5 =
  chance. Undefined (None) when all patches or none are inside.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from shapely.ops import unary_union

from ..errors import InputError
from ..viewer import PatchLayout
from .reader import QuPathObject

__all__ = ["inside_mask", "auroc", "attention_by_annotation", "STATS_COLUMNS"]

STATS_COLUMNS = ["class", "annotations", "patches inside", "patch share", "attention share", "enrichment", "AUROC"]


def inside_mask(layout: PatchLayout, region) -> np.ndarray:
    """(n,) bool: the patch centre lies in ``region`` (a shapely area in level-0 pixels)."""
    c = layout.coords + layout.side0 / 2.0
    return np.asarray(shapely.intersects_xy(region, c[:, 0], c[:, 1]), bool)


def auroc(scores, positive) -> float | None:
    """Mann–Whitney AUROC of ``scores`` for ``positive`` (ties ½); None when one class is empty."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positive, bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return None
    ranks = pd.Series(s).rank(method="average").to_numpy()
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def attention_by_annotation(layout: PatchLayout, scores, annotations: list[QuPathObject]) -> pd.DataFrame:
    """One row per annotated class (columns :data:`STATS_COLUMNS`), for the slide's patches.

    ``scores``: (N,) attention over the bag (the slide's rows are taken); ``annotations``: QuPath annotations
    of this slide (unclassified ones form the class ``"Unclassified"``).
    """
    s = np.asarray(scores.detach().float().cpu().numpy() if hasattr(scores, "detach") else scores, np.float64)
    if not np.isfinite(s).all():
        raise InputError("the attention holds non-finite values; re-run the prediction.")
    if len(layout) and layout.index.max() >= s.shape[0]:
        raise InputError(f"slide {layout.slide_id}: attention has {s.shape[0]} values for bag rows up to "
                         f"{int(layout.index.max())}; the model output belongs to another bag.")
    a = s[layout.index]
    total = a.sum()
    by_class: dict[str, list] = {}
    for o in annotations:
        by_class.setdefault(o.class_name or "Unclassified", []).append(o.geometry)
    rows = []
    for cls, geoms in by_class.items():
        inside = inside_mask(layout, unary_union(geoms)) if len(layout) else np.zeros(0, bool)
        n_in = int(inside.sum())
        patch_share = n_in / len(layout) if len(layout) else float("nan")
        att_share = float(a[inside].sum() / total) if total > 0 else float("nan")
        rows.append({
            "class": cls, "annotations": len(geoms), "patches inside": n_in, "patch share": patch_share,
            "attention share": att_share,
            "enrichment": att_share / patch_share if n_in else float("nan"),
            "AUROC": auroc(a, inside),
        })
    return pd.DataFrame(rows, columns=STATS_COLUMNS)
