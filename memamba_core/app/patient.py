"""One patient's prediction as light arrays: what a page keeps (and caches) instead of the model output and the bag.

Glossary: N patches, G genomic groups, K time bins. A :class:`PatientResult`
holds numpy copies of the model output and the bag's patch layout (coordinates,
slide of each patch, patch geometry) but not the (N, D_in) features, so a
cached result stays small whatever the encoder width.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..slides.geometry import PerSlideGeometry

__all__ = ["BagLayout", "PatientResult", "patient_result", "predict_patient_result"]


@dataclass(frozen=True)
class BagLayout(PerSlideGeometry):
    """Where a bag's patches are, without their features (what :func:`memamba_core.slides.slide_patches` needs).

    ``coords`` (N, 2) int64 level-0 (x, y) or None (features without
    coordinates); ``slide_index`` (N,) into ``slide_ids``; ``geometries`` one
    :class:`~memamba_core.slides.geometry.PatchGeometry` per slide, in
    ``slide_ids`` order (slides of one patient may differ in patch size and level).
    """

    coords: np.ndarray | None
    slide_index: np.ndarray
    slide_ids: tuple[str, ...]
    geometries: tuple = ()

    @property
    def n_patches(self) -> int:
        return int(self.slide_index.shape[0])


@dataclass(frozen=True)
class PatientResult:
    """A model's prediction for one patient: ``survival`` / ``hazards`` (K,), ``risk`` (−Σ_k S_k; higher =
    earlier event), ``attention`` maps (``pathology/<branch>`` (N,), ``genomics/<branch>`` (G,), …),
    ``transport_plan`` (N, G) or None, the head's ``expert_weights``, and the bag's :class:`BagLayout` (None
    when the patient has no patch features or the model reads none)."""

    case_id: str
    risk: float
    survival: np.ndarray
    hazards: np.ndarray
    attention: dict[str, np.ndarray] = field(default_factory=dict)
    transport_plan: np.ndarray | None = None
    expert_weights: dict[str, float] = field(default_factory=dict)
    bag: BagLayout | None = None


def _np(t) -> np.ndarray:
    """A torch tensor (any device) or array-like → float numpy array."""
    if hasattr(t, "detach"):
        t = t.detach().float().cpu().numpy()
    return np.asarray(t, dtype=float)


def patient_result(case_id: str, out, bag) -> PatientResult:
    """The light copy of ``(SurvivalOutput, Bag | None)`` from ``memamba_core.train.predict_patient``."""
    layout = None
    if bag is not None:
        layout = BagLayout(
            coords=None if bag.coords is None else np.asarray(bag.coords).copy(),
            slide_index=np.asarray(bag.slide_index).copy(), slide_ids=tuple(bag.slide_ids),
            geometries=tuple(bag.geometries),
        )
    return PatientResult(
        case_id=case_id, risk=float(_np(out.risk)), survival=_np(out.survival), hazards=_np(out.hazards),
        attention={k: _np(v) for k, v in out.attention.items()},
        transport_plan=None if out.transport_plan is None else _np(out.transport_plan),
        expert_weights={k: float(v) for k, v in out.expert_weights.items()}, bag=layout,
    )


def predict_patient_result(loaded, cohort, case_id: str) -> PatientResult:
    """Predict one patient without gradients (``memamba_core.train.predict_patient``) and keep the light copy."""
    import torch

    from ..train import predict_patient

    with torch.no_grad():
        out, bag = predict_patient(loaded, cohort, case_id)
    return patient_result(case_id, out, bag)

