"""Metrics of a run: per fold, mean ± std over folds, pooled out-of-fold with bootstrap CIs.

Per fold (on its validation patients): Harrell's C-index, Uno's IPCW C-index
(censoring estimated on the fold's training patients), integrated Brier score
and mean time-dependent AUC of the predicted step survival curves (see
:mod:`memamba_core.survival.metrics` for how curves become survival functions).
A metric that is undefined on a fold (e.g. no event in it) or comes out
non-finite is ``None`` and the reason is kept under ``notes`` (never a NaN score).

Pooled: all out-of-fold predictions together. Risks of different fold models
are on comparable scales only roughly, so the per-fold mean is the headline
number (the field's convention); the pooled C-index comes with a bootstrap CI.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..runs import RunPaths, fold_metas, read_oof, run_kind
from ..survival.metrics import c_index_ci, concordance, integrated_brier, ipcw_c_index, time_dependent_auc

__all__ = ["fold_metrics", "summarize", "evaluate_run", "METRICS"]

METRICS = ("c_index", "ipcw_c_index", "integrated_brier", "mean_auc")


def fold_metrics(train_times, train_cens, times, cens, risk, survival, cuts) -> dict:
    """All four metrics for one fold's validation patients (``cens``: 1 = censored)."""
    tt, te = np.asarray(train_times, float), 1 - np.asarray(train_cens, int)
    t, e = np.asarray(times, float), 1 - np.asarray(cens, int)
    out, notes = {}, {}
    calls = {
        "c_index": lambda: concordance(t, e, risk),
        "ipcw_c_index": lambda: ipcw_c_index(tt, te, t, e, risk),
        "integrated_brier": lambda: integrated_brier(tt, te, t, e, survival, cuts),
        "mean_auc": lambda: time_dependent_auc(tt, te, t, e, survival, cuts)[2],
    }
    for name, fn in calls.items():
        try:
            value = float(fn())
        except InputError as err:
            out[name] = None
            notes[name] = str(err)
            continue
        if not np.isfinite(value):  # never a NaN reported as a score: undefined, with the reason
            out[name] = None
            notes[name] = f"{name} came out {value} (not finite) on these {t.size} patients; it is left undefined."
        else:
            out[name] = value
    out["n"] = int(t.size)
    out["n_events"] = int(e.sum())
    if notes:
        out["notes"] = notes
    return out


def summarize(per_fold: list[dict], oof: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
              n_folds: int | None = None) -> dict:
    """Per-fold list + mean/std of each metric + pooled OOF C-index with a bootstrap CI."""
    mean, std = {}, {}
    for m in METRICS:
        vals = [f[m] for f in per_fold if f.get(m) is not None]
        mean[m] = float(np.mean(vals)) if vals else None
        std[m] = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
    pooled = None
    if len(oof):
        try:
            pooled = c_index_ci(
                oof["survival_months"].to_numpy(float), 1 - oof["censorship"].to_numpy(int), oof["risk"].to_numpy(float),
                n_boot=n_boot, seed=seed, level=level,
            ).to_dict()
        except InputError as err:
            pooled = {"error": str(err)}
    return {
        "folds": per_fold,
        "mean": mean,
        "std": std,
        "pooled_c_index": pooled,
        "n_folds_finished": len(per_fold),
        "complete": n_folds is not None and len(per_fold) == n_folds,
    }


def evaluate_run(run_dir: str | Path, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """Recompute the metrics of a run folder from its files, with bootstrap CIs per fold and pooled.

    Reads the out-of-fold predictions and each fold's record (cut-points,
    training times) through :mod:`memamba_core.runs`. Writes nothing.
    """
    if run_kind(run_dir) == "nested":
        raise InputError(f"{run_dir}: is a nested-selection run, which keeps no training times per fold; its summary "
                         f"holds its metrics (`memamba evaluate` reads runs of `memamba train`).")
    preds = read_oof(run_dir)
    if preds is None:
        raise InputError(f"{RunPaths(run_dir).oof}: missing; `memamba evaluate` needs a run folder with at least one finished fold.")
    records = fold_metas(run_dir)
    oof = preds.frame
    folds = []
    for k in sorted(oof["fold"].unique()):
        rows = (oof["fold"] == k).to_numpy()
        part = oof[rows]
        tr_times, tr_cens = records[int(k)].train_times()
        m = fold_metrics(tr_times, tr_cens, part["survival_months"], part["censorship"],
                         part["risk"].to_numpy(), preds.survival[rows], records[int(k)].cuts)
        try:
            ci = c_index_ci(part["survival_months"].to_numpy(float), 1 - part["censorship"].to_numpy(int),
                            part["risk"].to_numpy(float), n_boot=n_boot, seed=seed, level=level)
            m["c_index_ci"] = [ci.low, ci.high]
        except InputError as err:
            m["c_index_ci"] = None
            m.setdefault("notes", {})["c_index_ci"] = str(err)
        m["fold"] = int(k)
        folds.append(m)
    return summarize(folds, oof, n_boot=n_boot, seed=seed, level=level)
