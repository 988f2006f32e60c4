"""Nested cross-validation: hyper-parameters chosen on inner splits of each training fold only.

For every outer fold k (the cohort's split files, or generated folds — as ``train_cv``):

1. its *training* patients are cut into ``n_inner`` patient-level folds stratified
   by event (:func:`memamba_core.data.splits.make_folds`, seed ``inner_split_seed``);
2. every candidate of the grid is trained on each inner training part and scored
   by the C-index on the inner held-out part (scaler and time bins fitted on the
   inner training part; risk averaged over ``inner_seeds`` runs); a candidate's
   score is the mean over the inner folds;
3. the best-scoring candidate (ties: the first in grid order) is retrained on the
   whole training fold once per seed 0 … ``ensemble`` − 1, each run exactly the
   fold ``memamba train --seed s`` would train with that config; the validation
   patients' risk and survival curves are averaged over the seeds and scored.

The outer validation fold is read only in step 3, after the choice, so its
score is an honest estimate of the whole procedure (selection included).

Run folder (single process; files and formats of :mod:`memamba_core.runs`, kind ``"nested"``):
the run record (the grid, n_inner, inner_seeds, ensemble, cohort, folds), the
progress log (one line per inner score and per fold), per fold the ensemble's
validation prediction table and, written last, its selection record
(:class:`~memamba_core.runs.Selection`: every candidate's inner scores, the winner,
per-seed and ensemble validation metrics, and the final model's risks of its own
training patients); the out-of-fold table and the summary are rebuilt after each
fold. Once every fold is finished, the out-of-fold predictions are calibrated
(:func:`.scoring.calibrate_stored`: each fold's map fitted on the other folds'
predictions, docs/calibration.md) and the summary gets ``calibrated``: the
calibrated curves' IBS against the Kaplan–Meier null per fold and in the mean.

Rerunning the same call resumes (finished folds are skipped); a folder made
with other settings is refused unless ``force``. No weights are saved: the
folder records a procedure's score, not a model to deploy.

Seed keys: the inner fit (k, j, seed s) uses fold key ``100·(k+1) + j``
(model init, patient order, dropout); the final fit of seed s uses fold key k.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import pandas as pd
import torch

from ..data import Cohort
from ..data.splits import make_folds
from ..errors import InputError
from ..outputs import check_output_folder, cohort_reads
from ..runs import RunFolder, Selection
from .config import TrainConfig
from .cv import FoldData, new_model, prepare_fold, resolve_model_config, usable_folds, val_frame
from .distributed import Dist
from .evaluate import fold_metrics
from .examples import check_fold_events
from .loop import _c_index, fit_fold, predict_examples
from .scoring import calibrate_finished

__all__ = ["train_nested", "inner_scores", "fit_ensemble", "Ensemble"]


def _check_grid(grid: dict[str, TrainConfig]) -> None:
    if not grid:
        raise InputError("nested selection: the grid is empty; give at least one candidate TrainConfig.")
    first = next(iter(grid.values()))
    for name, cfg in grid.items():
        for f in ("folds", "n_folds", "n_bins"):
            if getattr(cfg, f) != getattr(first, f):
                raise InputError(f"nested selection: candidate {name!r} has {f}={getattr(cfg, f)!r}, the first "
                                 f"{getattr(first, f)!r}; candidates must share the folds and the time bins.")
        if (cfg.model.uses_pathology, cfg.model.uses_genomics) != (first.model.uses_pathology, first.model.uses_genomics):
            raise InputError(f"nested selection: candidate {name!r} reads other modalities than the first; "
                             "candidates must train on the same patients.")


class Ensemble(NamedTuple):
    """What :func:`fit_ensemble` returns. ``risk`` (P,) and ``survival`` (P, K): the seeds' means over ``data.val``;
    ``members``: each seed's (P,) risk; ``train_risk``: (n_train,) the mean risk of ``data.train`` (the ensemble's
    own training patients, for calibration), or None when not asked for."""

    risk: np.ndarray
    survival: np.ndarray
    members: list
    train_risk: np.ndarray | None = None


def fit_ensemble(cohort: Cohort, cfg: TrainConfig, data: FoldData, fold: int, seeds: int, d: Dist, *,
                 reference: bool = False) -> Ensemble:
    """Train ``cfg`` with seeds 0 … seeds−1 on ``data.train`` (fold key ``fold``); predict ``data.val``
    (and ``data.train`` too with ``reference``: one more pass per seed)."""
    mcfg = resolve_model_config(cohort, cfg)
    risks, survs, train = [], [], []
    for s in range(seeds):
        run_cfg = cfg.replace(seed=s)
        model = new_model(mcfg, run_cfg, fold, d)
        fit_fold(model, data.train, run_cfg, fold, d)
        r, sv = predict_examples(model, data.val, d)
        risks.append(r)
        survs.append(sv)
        if reference:
            train.append(predict_examples(model, data.train, d)[0])
    return Ensemble(np.mean(risks, axis=0), np.mean(survs, axis=0), risks, np.mean(train, axis=0) if reference else None)


def inner_scores(cohort: Cohort, grid: dict[str, TrainConfig], train_ids, fold: int, *, n_inner: int = 3,
                 inner_seeds: int = 1, inner_split_seed: int = 0, d: Dist | None = None,
                 on_score: Callable[[dict], None] | None = None) -> dict[str, dict]:
    """Every candidate's inner C-index on stratified inner folds of ``train_ids`` (outer fold ``fold``).

    Returns {name: {"mean": mean over inner folds, "inner": [C-index per inner fold]}}.
    """
    d = d or Dist()
    ids = list(train_ids)
    inner = make_folds(ids, np.array([cohort.patient(c).event for c in ids]), n_inner, inner_split_seed)
    for j, part in enumerate(inner):
        check_fold_events(j, part.train, cohort, f"inner fold {j} of outer fold {fold}")
    cache: dict[tuple, FoldData] = {}
    out = {}
    for name, cfg in grid.items():
        mcfg = resolve_model_config(cohort, cfg)
        per = []
        for j, part in enumerate(inner):
            key = (j, cfg.n_bins)
            if key not in cache:
                cache[key] = prepare_fold(cohort, cfg, mcfg, part.train, part.val)
            data = cache[key]
            risk = fit_ensemble(cohort, cfg, data, 100 * (fold + 1) + j, inner_seeds, d).risk
            per.append(_c_index([e.time for e in data.val], [e.censorship for e in data.val], risk))
        scored = [c for c in per if c is not None]
        out[name] = {"mean": float(np.mean(scored)) if scored else None, "inner": per}
        if on_score is not None:
            on_score({"event": "inner", "fold": fold, "candidate": name, **out[name]})
    return out


def _winner(scores: dict[str, dict]) -> str:
    best, best_score = None, -np.inf
    for name, s in scores.items():  # grid order: the first of equal scores wins
        if s["mean"] is not None and s["mean"] > best_score:
            best, best_score = name, s["mean"]
    if best is None:
        raise InputError("nested selection: no candidate has an inner C-index (inner folds without comparable pairs).")
    return best


def train_nested(cohort: Cohort, grid: dict[str, TrainConfig], out: str | Path, *, n_inner: int = 3,
                 inner_seeds: int = 1, ensemble: int = 10, inner_split_seed: int = 0, force: bool = False,
                 only_folds: list[int] | None = None, on_record: Callable[[dict], None] | None = None) -> dict:
    """Nested selection over ``grid`` on ``cohort``'s folds into the run folder ``out``; returns the summary.

    Args:
        grid: candidate name → TrainConfig (their ``seed`` is ignored: seeds are set by the procedure).
        n_inner: inner folds per training fold.
        inner_seeds: runs averaged per inner fit.
        ensemble: seeds of the final retrain on the whole training fold (risks averaged).
        inner_split_seed: seed of the inner stratified folds.
        force / only_folds / on_record: as :func:`~memamba_core.train.cv.train_cv`.

    Raises:
        InputError (nothing overwritten): an empty or inconsistent grid, folds without
        events (outer or inner), a folder made with other settings, a folder in use.
    """
    _check_grid(grid)
    if n_inner < 2 or inner_seeds < 1 or ensemble < 1:
        raise InputError(f"nested selection: n_inner must be ≥ 2, inner_seeds and ensemble ≥ 1; got {n_inner}, {inner_seeds}, {ensemble}.")
    first = next(iter(grid.values()))
    threads = torch.get_num_threads()
    if first.num_threads:
        torch.set_num_threads(first.num_threads)
    try:
        return _train_nested(cohort, grid, Path(out), n_inner, inner_seeds, ensemble, inner_split_seed, force, only_folds, on_record)
    finally:
        torch.set_num_threads(threads)


def _train_nested(cohort, grid, out, n_inner, inner_seeds, ensemble, inner_split_seed, force, only_folds, on_record) -> dict:
    first = next(iter(grid.values()))
    folds, source, excluded = usable_folds(cohort, first, resolve_model_config(cohort, first))
    record = {
        "procedure": "nested",
        "grid": {name: cfg.to_dict() for name, cfg in grid.items()},
        "n_inner": n_inner, "inner_seeds": inner_seeds, "ensemble": ensemble, "inner_split_seed": inner_split_seed,
        "cohort": {"name": cohort.name, "n_patients": len(cohort.patients), "excluded": excluded},
        "fold_source": source,
        "folds": [{"train": list(f.train), "val": list(f.val)} for f in folds],
    }
    out = check_output_folder(out, reads=cohort_reads(cohort))
    run = RunFolder(out, kind="nested")
    default = json.loads(json.dumps(TrainConfig().to_dict()))
    finished = run.start(record, force=force, defaults={"grid": dict.fromkeys(grid, default)})
    d = Dist()

    def log(rec: dict) -> None:
        run.log(**rec)
        if on_record is not None:
            on_record(rec)

    try:
        log({"event": "run_start" if not finished else "resume", "folds": len(folds), "skipping": finished})
        for k, split in enumerate(folds):
            if k in finished or (only_folds is not None and k not in only_folds):
                continue
            t0 = time.perf_counter()
            scores = inner_scores(cohort, grid, split.train, k, n_inner=n_inner, inner_seeds=inner_seeds,
                                  inner_split_seed=inner_split_seed, d=d, on_score=log)
            chosen = _winner(scores)
            cfg = grid[chosen]
            data = prepare_fold(cohort, cfg, resolve_model_config(cohort, cfg), split.train, split.val)
            risk, surv, members, train_risk = fit_ensemble(cohort, cfg, data, k, ensemble, d, reference=True)
            times, cens = [e.time for e in data.val], [e.censorship for e in data.val]
            metrics = fold_metrics([e.time for e in data.train], [e.censorship for e in data.train], times, cens, risk, surv, data.cuts)
            run.write_fold_predictions(k, val_frame(k, data.val, risk, surv))
            selection = Selection(
                fold=k, chosen=chosen, inner_scores=scores, metrics=metrics,
                member_c_index=[_c_index(times, cens, r) for r in members],
                cuts=tuple(float(c) for c in data.cuts), n_train=len(data.train), n_val=len(data.val),
                val_case_ids=tuple(e.case_id for e in data.val), seconds=time.perf_counter() - t0,
                reference_risk=tuple(float(x) for x in train_risk),
            )
            run.write_selection(k, selection)
            log({"event": "fold_end", "fold": k, "chosen": chosen, "inner_mean": scores[chosen]["mean"],
                 "c_index": metrics.get("c_index"), "seconds": selection.seconds})
        summary = run.rebuild(_nested_summary(len(folds), record))
        if len(run.finished_folds()) == len(folds):
            summary = calibrate_finished(run, summary, log, cohort)
        log({"event": "run_end", "finished": run.finished_folds()})
        return summary
    finally:
        run.release()


def _nested_summary(n_folds: int, record: dict) -> Callable[[list, pd.DataFrame], dict]:
    """The summary of a nested run from its finished folds' selection records and out-of-fold table."""

    def summary(selections: list[Selection], oof: pd.DataFrame) -> dict:
        per_fold = [{"fold": s.fold, "chosen": s.chosen, "inner_mean": s.chosen_inner_mean, "c_index": s.metrics.get("c_index"),
                     "member_c_index": s.member_c_index, "n": s.n_val,
                     "n_events": int((oof.loc[oof["fold"] == s.fold, "censorship"] == 0).sum()), "seconds": s.seconds}
                    for s in selections]
        c = [f["c_index"] for f in per_fold if f["c_index"] is not None]
        return {
            "procedure": "nested", "fold_source": record["fold_source"], "n_folds": n_folds,
            "n_folds_finished": len(per_fold), "complete": len(per_fold) == n_folds,
            "n_inner": record["n_inner"], "inner_seeds": record["inner_seeds"], "ensemble": record["ensemble"],
            "candidates": list(record["grid"]), "folds": per_fold,
            "mean_c_index": float(np.mean(c)) if c else None,
            "std_c_index": float(np.std(c, ddof=1)) if len(c) > 1 else None,
        }

    return summary
