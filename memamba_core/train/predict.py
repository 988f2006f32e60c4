"""Inference with a loaded checkpoint on a cohort (what the dashboard calls).

Before anything runs, :func:`check_compatible` compares the cohort with the
checkpoint: the patch feature width D_in and the gene groups (names and
columns, in order) must match what the model was trained on; otherwise an
:class:`~memamba_core.errors.InputError` says what differs and how to fix it.
Genomic values are standardised with the checkpoint's scaler (fitted on its
training patients), never refitted on the cohort being predicted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..data import Bag, Cohort
from ..errors import InputError
from ..survival.discrete import risk_from_survival
from .checkpoint import LoadedModel
from .runfolder import survival_columns
from .examples import model_modalities

__all__ = ["check_compatible", "predict_patient", "predict_cohort"]


def check_compatible(loaded: LoadedModel, cohort: Cohort) -> None:
    """InputError when ``cohort`` cannot feed ``loaded`` (feature width or gene groups differ)."""
    use_p, use_g = model_modalities(loaded.config)
    where = f"checkpoint {loaded.path}"
    if use_p:
        dim = cohort.feature_dim()
        if dim is None:
            raise InputError(
                f"{where} needs patch features (D_in = {loaded.config.path_input_dim}) but cohort '{cohort.name}' has none; "
                f"pick a checkpoint trained without pathology, or extract features for this cohort."
            )
        if dim != loaded.config.path_input_dim:
            raise InputError(
                f"{where} was trained on {loaded.config.path_input_dim}-dim patch features but cohort '{cohort.name}' has "
                f"{dim}-dim features; extract them with the same encoder as the training cohort, or pick a matching checkpoint."
            )
    if use_g:
        if cohort.groups is None or loaded.groups is None:
            raise InputError(
                f"{where} needs genomics (gene groups {', '.join(loaded.groups.names) if loaded.groups else '?'}) "
                f"but cohort '{cohort.name}' has no gene groups; add signatures.csv/pathways.csv and genomic columns."
            )
        a, b = loaded.groups, cohort.groups
        if a.names != b.names:
            raise InputError(
                f"{where} was trained on gene groups ({', '.join(a.names)}) but cohort '{cohort.name}' has "
                f"({', '.join(b.names)}); use the same signatures/pathways file as the training cohort."
            )
        if a.sizes != b.sizes:
            diff = [f"{n}: {x} vs {y}" for n, x, y in zip(a.names, a.sizes, b.sizes) if x != y]
            raise InputError(
                f"{where}: the gene groups have different sizes in cohort '{cohort.name}' (checkpoint vs cohort: "
                f"{'; '.join(diff[:4])}); the cohort must provide the same genomic columns as the training cohort."
            )


def _tokens(loaded: LoadedModel, cohort: Cohort, case_id: str) -> list[torch.Tensor] | None:
    return cohort.genomic_tokens(case_id, loaded.scaler, loaded.groups)


@torch.no_grad()
def predict_patient(loaded: LoadedModel, cohort: Cohort, case_id: str):
    """Predict one patient. Returns ``(SurvivalOutput, Bag | None)``.

    The output holds logits/hazards/survival (K,), risk (), attention maps,
    the transport plan and expert weights (see ``memamba_core.models``); the
    bag (full, not subsampled) gives the patch coordinates for heatmaps.
    InputError when the patient has none of the modalities the model uses.
    """
    check_compatible(loaded, cohort)
    use_p, use_g = model_modalities(loaded.config)
    bag: Bag | None = cohort.load_bag(case_id) if use_p else None
    omics = _tokens(loaded, cohort, case_id) if use_g else None
    if bag is None and omics is None:
        raise InputError(f"patient {case_id} of cohort '{cohort.name}' has none of the modalities this model uses; pick another patient.")
    device = next(loaded.model.parameters()).device
    loaded.model.eval()
    out = loaded.model(None if bag is None else bag.features.to(device), None if omics is None else [t.to(device) for t in omics])
    return out, bag


@torch.no_grad()
def predict_cohort(loaded: LoadedModel, cohort: Cohort, case_ids=None) -> pd.DataFrame:
    """Risk and survival curve of every patient (or ``case_ids``) the model can score.

    Returns a DataFrame with columns ``case_id, risk, S_1..S_K, survival_months,
    censorship, event, in_training`` (``in_training``: the checkpoint was fitted
    on this patient, so its prediction is not out-of-sample). Patients without
    any modality the model uses are left out.
    """
    check_compatible(loaded, cohort)
    use_p, use_g = model_modalities(loaded.config)
    ids = cohort.case_ids() if case_ids is None else list(case_ids)
    trained = set(loaded.train_case_ids)
    rows, curves = [], []
    for c in ids:
        p = cohort.patient(c)
        if not ((use_p and cohort.has_pathology(c)) or (use_g and cohort.has_genomics(c))):
            continue
        out, _ = predict_patient(loaded, cohort, c)
        s = out.survival.detach().float().cpu().numpy()
        curves.append(s)
        rows.append({"case_id": c, "risk": float(risk_from_survival(out.survival.detach().cpu())),
                     "survival_months": p.survival_months, "censorship": p.censorship, "event": int(p.event),
                     "in_training": c in trained})
    cols = survival_columns(loaded.n_bins)
    df = pd.DataFrame(rows, columns=["case_id", "risk", "survival_months", "censorship", "event", "in_training"])
    curve = pd.DataFrame(np.stack(curves) if curves else np.zeros((0, len(cols))), columns=cols)
    return pd.concat([df[["case_id", "risk"]], curve, df[["survival_months", "censorship", "event", "in_training"]]], axis=1)
