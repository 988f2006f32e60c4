"""Checks against the demo cohort's saved truth: does the Pathology Expert attend to the risk-driving tissue?

The demo's risk depends on the high-grade tumour fraction of each slide (``truth/model.json``
names the risk-driving class); ``truth/patch_classes/<slide>.npy`` holds the (N,) class of every
patch, rows aligned with the slide's feature rows. :func:`attention_auroc` scores, for each
patient predicted by the fold model that did *not* train on them, how well the Pathology
Expert's attention ranks the risk-driving patches above the others (AUROC per slide with both
kinds of patch, then mean and median).

:func:`demo_acceptance` runs the issue's acceptance on a demo cohort: the full
model, pathology-only and genomics-only under the same CV (an ablation run),
plus the attention AUROC of the full model; the record is written into the ablation
folder (:func:`memamba_core.runs.write_acceptance`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
from sklearn.metrics import roc_auc_score

from ..data import Cohort
from ..data.bags import slide_stem
from ..errors import InputError
from ..runs import RunPaths, finished_folds, write_acceptance
from .checkpoint import load_checkpoint
from .config import TrainConfig
from .predict import predict_patient

__all__ = ["attention_auroc", "demo_acceptance", "risk_class"]


def risk_class(cohort: Cohort) -> int:
    """Index of the risk-driving patch class named in ``truth/model.json`` (``classes``, ``risk_driving_class``)."""
    p = cohort.root / "truth" / "model.json"
    try:
        model = json.loads(p.read_text())
        return int(list(model["classes"]).index(model["risk_driving_class"]))
    except FileNotFoundError:
        raise InputError(f"{p}: missing; attention is checked against a cohort's saved truth, which only the demo cohort has.") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{p}: unreadable or without 'classes' / 'risk_driving_class' ({e}); rebuild the demo cohort.") from None


def _truth(cohort: Cohort, slide_ids, slide_index: np.ndarray) -> np.ndarray:
    parts = []
    for j, sid in enumerate(slide_ids):
        p = cohort.root / "truth" / "patch_classes" / f"{slide_stem(sid)}.npy"
        if not p.is_file():
            raise InputError(f"{p}: missing; attention is checked against a cohort's saved truth, which only the demo cohort has.")
        cls = np.load(p, allow_pickle=False)
        n = int((slide_index == j).sum())
        if cls.shape[0] != n:
            raise InputError(f"{p}: {cls.shape[0]} patch classes for a slide with {n} feature rows; the truth does not match the features.")
        parts.append(cls)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int8)


def attention_auroc(run_dir: str | Path, cohort: Cohort, *, keys=("pathology/pool", "pathology/ranked"),
                    positive: int | None = None) -> dict:
    """Per-slide AUROC of attention (risk-driving vs other patches) on out-of-fold patients of every finished fold.

    ``positive``: the class index of the risk-driving patches (default: :func:`risk_class`).
    Returns ``{key: {"mean", "median", "n_slides"}, "positive_class", "per_patient": {case_id: {key: auroc}}}``.
    Slides whose patches are all of one kind are skipped (AUROC undefined).
    """
    positive = risk_class(cohort) if positive is None else positive
    run = Path(run_dir).expanduser().resolve()
    folds = finished_folds(run)
    if not folds:
        raise InputError(f"{run}: no finished fold to check; train first.")
    per_patient: dict[str, dict[str, float]] = {}
    for k in folds:
        loaded = load_checkpoint(run, fold=k)
        for cid in loaded.val_case_ids:
            out, bag = predict_patient(loaded, cohort, cid)
            if bag is None:
                continue
            labels = _truth(cohort, bag.slide_ids, np.asarray(bag.slide_index)) == positive
            if labels.all() or not labels.any():
                continue
            scores = {}
            for key in keys:
                if key in out.attention:
                    scores[key] = float(roc_auc_score(labels, out.attention[key].detach().float().cpu().numpy()))
            per_patient[cid] = scores
    result: dict = {"per_patient": per_patient, "positive_class": int(positive)}
    for key in keys:
        vals = [s[key] for s in per_patient.values() if key in s]
        result[key] = {"mean": float(np.mean(vals)) if vals else None, "median": float(np.median(vals)) if vals else None,
                       "n_slides": len(vals)}
    return result


def demo_acceptance(cohort: Cohort, cfg: TrainConfig, out: str | Path, *, progress: bool = False,
                    on_record: Callable[[dict], None] | None = None) -> dict:
    """Full vs pathology-only vs genomics-only under the same CV (an ablation folder ``out``), and the attention AUROC;
    writes the acceptance record into ``out`` and returns it."""
    from .ablate import run_ablations

    out = Path(out).expanduser().resolve()
    table = run_ablations(cohort, cfg, out, variants=["full", "pathology_only", "genomics_only"], progress=progress,
                          on_record=on_record)
    c = {row["variant"]: row["c_index_mean"] for _, row in table.iterrows()}
    att = attention_auroc(RunPaths(out).variant("full").root, cohort)
    res = {
        "c_index_mean": c,
        "full_beats_both": bool(c["full"] > c["pathology_only"] and c["full"] > c["genomics_only"]),
        "attention_auroc": {k: v for k, v in att.items() if k != "per_patient"},
        "train_config": cfg.to_dict(),
    }
    write_acceptance(out, res)
    return res
