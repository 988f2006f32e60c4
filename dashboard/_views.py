"""Pure helpers for the slide views (no streamlit here; unit-tested).

Glossary: N patches in a bag; a bag may span several slides (``slide_index``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SlidePatches:
    """The patches of one slide of a bag: ``index (n,)`` into the bag, ``coords (n, 2)`` level-0 (x, y)."""

    slide_id: str
    index: np.ndarray
    coords: np.ndarray
    patch_size0: float   # patch side in level-0 pixels


def attention_keys(attention: dict, prefix: str = "pathology/") -> list[str]:
    """Attention maps over patches (``pathology/<branch>``) in the model output, stable order."""
    return sorted(k for k in attention if k.startswith(prefix))


def slide_patches(bag, slide_pos: int, level_downsamples) -> SlidePatches | None:
    """Patches of slide ``slide_pos`` of ``bag``; None without coordinates.

    CLAM stores ``patch_size`` at ``patch_level``: the level-0 side is
    ``patch_size × level_downsamples[patch_level]``.
    """
    if bag is None or bag.coords is None:
        return None
    idx = np.flatnonzero(np.asarray(bag.slide_index) == slide_pos)
    level = int(bag.patch_level or 0)
    ds = float(level_downsamples[level]) if level < len(level_downsamples) else 1.0
    size0 = float(bag.patch_size or 256) * ds
    return SlidePatches(bag.slide_ids[slide_pos], idx, np.asarray(bag.coords)[idx], size0)


def selected_patch(event, n: int) -> int | None:
    """Index (into the slide's patches) of the first selected patch point of a plotly selection event."""
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


def to_numpy(t) -> np.ndarray:
    """A torch tensor (any device) or array-like → float numpy array."""
    if hasattr(t, "detach"):
        t = t.detach().float().cpu().numpy()
    return np.asarray(t, dtype=float)
