"""Inference with a loaded checkpoint on a cohort (what the dashboard calls).

Before anything runs, the one compatibility check (:mod:`.compat`) compares the
cohort with the checkpoint — feature width D_in, gene groups and their columns,
modalities, time bins — and raises every problem it finds in one
:class:`~memamba_core.errors.InputError`. Genomic values are standardised with the
checkpoint's scaler (fitted on its training patients), never refitted on the
cohort being predicted.

Numbers are finite or the call fails: a non-finite risk or survival curve is an
InputError naming the checkpoint and the patient (never a NaN risk shown as a
percentile). One patient whose data cannot be read does not stop a cohort:
:func:`predict_cohort` leaves them out and lists them, with the reason, in the
result's ``attrs["skipped"]`` (``{case_id: message}``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..data import Bag, Cohort
from ..errors import InputError
from ..runs import prediction_frame
from ..survival.discrete import risk_from_survival
from .checkpoint import LoadedModel
from .compat import Needs, require_compatible

__all__ = ["check_compatible", "predict_patient", "predict_cohort", "skipped_note"]


def check_compatible(loaded: LoadedModel, cohort: Cohort) -> None:
    """InputError listing every problem that keeps ``cohort`` from feeding ``loaded`` (see :mod:`.compat`)."""
    require_compatible(cohort, Needs.from_loaded(loaded))


class _Unreadable(Exception):
    """A patient's inputs could not be read (the loader's InputError/OSError is the cause)."""


def _read_inputs(loaded: LoadedModel, cohort: Cohort, case_id: str):
    cfg = loaded.config
    bag: Bag | None = cohort.load_bag(case_id) if cfg.uses_pathology else None
    omics = cohort.genomic_tokens(case_id, loaded.scaler, loaded.groups) if cfg.uses_genomics else None
    return bag, omics


def _predict(loaded: LoadedModel, cohort: Cohort, case_id: str, *, readable_only: bool = False):
    if readable_only:
        try:
            bag, omics = _read_inputs(loaded, cohort, case_id)
        except (InputError, OSError) as err:
            raise _Unreadable(str(err)) from err
    else:
        bag, omics = _read_inputs(loaded, cohort, case_id)
    if bag is None and omics is None:
        raise InputError(f"patient {case_id} of cohort '{cohort.name}' has none of the modalities this model uses; pick another patient.")
    device = next(loaded.model.parameters()).device
    loaded.model.eval()
    out = loaded.model(None if bag is None else bag.features.to(device), None if omics is None else [t.to(device) for t in omics])
    _require_finite(out, loaded, case_id)
    return out, bag


def _require_finite(out, loaded: LoadedModel, case_id: str) -> None:
    surv, risk = out.survival.detach(), out.risk.detach()
    if not (bool(torch.isfinite(surv).all()) and bool(torch.isfinite(risk).all())):
        raise InputError(f"{loaded.path}: the checkpoint predicts a non-finite risk or survival curve for patient {case_id} "
                         f"(NaN or infinity); its weights or this patient's inputs hold values the model cannot use — "
                         f"check the patient's feature and genomic values, or retrain the checkpoint.")


@torch.no_grad()
def predict_patient(loaded: LoadedModel, cohort: Cohort, case_id: str):
    """Predict one patient. Returns ``(SurvivalOutput, Bag | None)``.

    The output holds logits/hazards/survival (K,), risk (), attention maps,
    the transport plan and expert weights (see ``memamba_core.models``); the
    bag (full, not subsampled) gives the patch coordinates for heatmaps.
    InputError when the cohort does not fit the checkpoint, or the patient has
    none of the modalities the model uses.
    """
    check_compatible(loaded, cohort)
    return _predict(loaded, cohort, case_id)


@torch.no_grad()
def predict_cohort(loaded: LoadedModel, cohort: Cohort, case_ids=None) -> pd.DataFrame:
    """Risk and survival curve of every patient (or ``case_ids``) the model can score.

    Returns the prediction table (:mod:`memamba_core.runs.predictions`) with columns
    ``case_id, risk, S_1..S_K, survival_months, censorship, event, in_training``
    (``in_training``: the checkpoint was fitted on this patient, so its prediction
    is not out-of-sample). Patients without any modality the model uses are left out.
    A patient whose bag or genomic row cannot be read (InputError or OSError from the
    loader) is left out too and listed in ``result.attrs["skipped"]`` (``{case_id: reason}``,
    empty when none was); a non-finite prediction is an InputError (see the module doc).
    """
    check_compatible(loaded, cohort)
    cfg = loaded.config
    ids = cohort.case_ids() if case_ids is None else list(case_ids)
    trained = set(loaded.train_case_ids)
    kept, risks, curves = [], [], []
    skipped: dict[str, str] = {}
    for c in ids:
        if not ((cfg.uses_pathology and cohort.has_pathology(c)) or (cfg.uses_genomics and cohort.has_genomics(c))):
            continue
        try:
            out, _ = _predict(loaded, cohort, c, readable_only=True)
        except _Unreadable as err:
            skipped[c] = str(err.__cause__ or err)
            continue
        kept.append(cohort.patient(c))
        curves.append(out.survival.detach().float().cpu().numpy())
        risks.append(float(risk_from_survival(out.survival.detach().cpu())))
    surv = np.stack(curves) if curves else np.zeros((0, loaded.n_bins))
    df = prediction_frame([p.case_id for p in kept], risks, surv,
                            survival_months=[p.survival_months for p in kept], censorship=[p.censorship for p in kept],
                            event=[int(p.event) for p in kept], in_training=[p.case_id in trained for p in kept])
    df.attrs["skipped"] = skipped
    return df


def skipped_note(predictions: pd.DataFrame, *, limit: int = 10) -> str | None:
    """One plain sentence listing the patients :func:`predict_cohort` left out and why (None when none was):
    what the dashboard shows as a warning above the cohort's predictions."""
    skipped = dict(getattr(predictions, "attrs", {}).get("skipped") or {})
    if not skipped:
        return None
    items = list(skipped.items())
    listed = "; ".join(f"{c}: {why}" for c, why in items[:limit]) + (f"; … and {len(items) - limit} more" if len(items) > limit else "")
    return (f"{len(items)} patient(s) left out because their data could not be read — {listed}. "
            f"The other patients are shown; fix those files and reload to include them.")
