"""Ask a patch: what the model says about the patch under a click.

The viewer returns the level-0 (x, y) of a click; :func:`ask_patch` finds the
patch of the slide shown that covers it and gathers, for that patch, its
attention in every branch (value, rank among all the patient's N patches —
1 = most attended — and percentile), the genomic group it sends most mass to
and how much (and its whole row of the plan), its level-0 geometry, and the
patch itself read from the slide at level 0 (full resolution).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..errors import InputError
from ..viz import read_patch
from .layout import PatchLayout

__all__ = ["BranchScore", "PatchReport", "ask_patch"]


@dataclass(frozen=True)
class BranchScore:
    """Attention of one patch in one branch: ``rank`` 1..``of`` (1 = highest), ``percentile`` in [0, 100]."""

    key: str
    value: float
    rank: int
    of: int
    percentile: float


@dataclass
class PatchReport:
    """Everything about one patch. ``bag_row``: its row in the bag; ``xy0``: level-0 top-left; ``side0``: level-0 side;
    ``group`` / ``group_mass``: the genomic group it sends most mass to and that mass (None without a plan);
    ``plan_row``: its mass per group; ``image``: the patch at level 0 (None when no slide was given)."""

    slide_id: str
    position: int
    bag_row: int
    xy0: tuple[int, int]
    side0: float
    scores: list[BranchScore]
    group: str | None
    group_mass: float | None
    plan_row: dict[str, float]
    image: Image.Image | None

    def rows(self) -> list[dict]:
        """The branch scores as table rows (key, attention, rank, percentile)."""
        return [{"branch": s.key, "attention": s.value, "rank": f"{s.rank} / {s.of}", "percentile": s.percentile}
                for s in self.scores]


def _array(v, what: str) -> np.ndarray:
    if hasattr(v, "detach"):
        v = v.detach().float().cpu().numpy()
    a = np.asarray(v, dtype=np.float64)
    if not np.isfinite(a).all():
        raise InputError(f"{what} holds non-finite values; the checkpoint or its inputs are broken — re-run the prediction.")
    return a


def _score(key: str, values: np.ndarray, row: int) -> BranchScore:
    v = values[row]
    n = values.shape[0]
    higher = int((values > v).sum())
    lower = int((values < v).sum())
    return BranchScore(key, float(v), higher + 1, n, 100.0 * lower / max(n - 1, 1))


def ask_patch(layout: PatchLayout, xy, attention: dict, plan=None, group_names=(), slide=None) -> PatchReport | None:
    """The patch of ``layout`` under level-0 point ``xy``, or None when no patch covers it.

    ``attention``: the model output's map (``pathology/<branch>`` → (N,) over the bag are used; other keys,
    over genomic tokens, are not about patches); ``plan``: (N, G) or None; ``group_names``: G names; ``slide``: an open slide to read
    the patch from at level 0, or None.
    """
    pos = layout.patch_at(float(xy[0]), float(xy[1]))
    if pos is None:
        return None
    row = int(layout.index[pos])
    scores = []
    for key in sorted(k for k in attention if k.startswith("pathology/")):
        a = _array(attention[key], f"attention {key}").reshape(-1)
        if a.shape[0] <= row:
            raise InputError(f"attention {key} has {a.shape[0]} values but the patch is bag row {row}; "
                             f"the model output belongs to another bag.")
        scores.append(_score(key, a, row))
    group = mass = None
    plan_row: dict[str, float] = {}
    if plan is not None:
        p = _array(plan, "transport plan")
        if p.ndim != 2 or p.shape[0] <= row:
            raise InputError(f"transport plan of shape {p.shape} does not cover bag row {row}; it belongs to another bag.")
        names = list(group_names) or [f"group {j}" for j in range(p.shape[1])]
        if len(names) != p.shape[1]:
            raise InputError(f"{len(names)} group names for a plan over {p.shape[1]} groups.")
        g = int(p[row].argmax())
        group, mass = names[g], float(p[row, g])
        plan_row = {nm: float(m) for nm, m in zip(names, p[row])}
    x, y = (int(round(v)) for v in layout.coords[pos])
    image = None if slide is None else read_patch(slide, (x, y), int(round(layout.side0)), level=0)
    return PatchReport(layout.slide_id, pos, row, (x, y), layout.side0, scores, group, mass, plan_row, image)
