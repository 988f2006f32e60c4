"""Cross-validated training into a run folder (the trainer the CLI and the dashboard call).

Per fold k, using the fold's *training* patients only: fit the genomic scaler,
place the K time bins (quartiles of uncensored training times), build the
model (seeded), train (:mod:`memamba_core.train.loop`), predict the validation
patients, and write the fold's folder (weights, predictions, meta record — meta
last). After each fold the out-of-fold table and the summary are rebuilt from the
finished folds. Finished folds are skipped on a rerun (resume). Once every fold
is finished, each fold model's calibration map is fitted on training patients of
that fold and stored with the run (:func:`.scoring.calibrate_and_store`;
docs/calibration.md). The run folder's files and their formats belong to
:mod:`memamba_core.runs`.

Folds: the cohort's split files (``folds="auto"`` or ``"splits"``) or
``cohort.make_folds(n_folds, seed)`` (``"generated"``, or auto without split files).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from ..data import Cohort, Split
from ..errors import InputError
from ..models import ModelConfig, build_model
from ..runs import FoldMeta, RunFolder, prediction_frame
from ..survival.discrete import bin_edges
from .checkpoint import save_fold
from .compat import Needs, require_compatible
from .config import TrainConfig
from .distributed import Dist, wrap_model
from .evaluate import fold_metrics, summarize
from .examples import check_fold_events, eligible_ids, make_examples, model_modalities
from .loop import fit_fold, predict_examples

__all__ = ["train_cv", "resolve_model_config", "resolve_folds", "usable_folds", "prepare_fold", "new_model", "FoldData",
           "val_frame"]


def resolve_model_config(cohort: Cohort, cfg: TrainConfig) -> ModelConfig:
    """The model config with the cohort's D_in, group sizes and ``cfg.n_bins`` filled in.

    Raises one InputError listing every problem of the compatibility check
    (:mod:`.compat`), e.g. a modality the model needs but the cohort lacks.
    """
    require_compatible(cohort, Needs.for_training(cfg.model, cfg.n_bins))
    changes = {"n_bins": cfg.n_bins}
    dim = cohort.feature_dim()
    if dim is not None:
        changes["path_input_dim"] = int(dim)
    if cohort.groups is not None:
        changes["omic_sizes"] = tuple(cohort.groups.sizes)
    return dataclasses.replace(cfg.model, **changes)


def resolve_folds(cohort: Cohort, cfg: TrainConfig) -> tuple[list[Split], str]:
    """(folds, where they come from). InputError with fewer patients than folds or no split files when asked for."""
    if cfg.folds != "generated" and cohort.splits:
        return list(cohort.splits), f"{len(cohort.splits)} split files of {cohort.root}"
    if cfg.folds == "splits":
        raise InputError(f"cohort '{cohort.name}' ({cohort.root}) has no split files (splits/splits_<k>.csv); use --folds generated.")
    n = len(cohort.patients)
    if n < cfg.n_folds:
        raise InputError(
            f"cohort '{cohort.name}' has {n} patients but {cfg.n_folds} folds were asked for; "
            f"each fold needs validation patients — use --n-folds {max(2, min(n, 5)) if n >= 2 else 2} or fewer, or add patients."
        )
    return cohort.make_folds(cfg.n_folds, cfg.seed), f"{cfg.n_folds} generated folds (seed {cfg.seed})"


def usable_folds(cohort: Cohort, cfg: TrainConfig, mcfg: ModelConfig) -> tuple[list[Split], str, list[str]]:
    """(folds restricted to the patients ``mcfg`` can use, where they come from, excluded case ids).

    Raises InputError for a fold without a usable validation patient or without a training event.
    """
    folds, source = resolve_folds(cohort, cfg)
    usable, excluded = eligible_ids(cohort, mcfg)
    usable_set = set(usable)
    folds = [Split(tuple(c for c in f.train if c in usable_set), tuple(c for c in f.val if c in usable_set)) for f in folds]
    for k, f in enumerate(folds):
        if not f.val:
            raise InputError(f"fold {k} ({source}) has no usable validation patient; use fewer folds.")
        check_fold_events(k, f.train, cohort, source)
    return folds, source, excluded


def _progress_bar(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="patient", leave=True, dynamic_ncols=True, file=sys.stderr)


def val_frame(k: int, examples, risk: np.ndarray, surv: np.ndarray) -> pd.DataFrame:
    """Fold ``k``'s prediction table of its validation ``examples``: risk (P,), survival (P, K), their times."""
    return prediction_frame([e.case_id for e in examples], risk, surv, fold=k,
                            survival_months=[e.time for e in examples], censorship=[e.censorship for e in examples])


def _cv_summary(n_folds: int, cfg: TrainConfig, extra: dict) -> Callable[[list, pd.DataFrame], dict]:
    """The summary of a cv run from its finished folds' meta records and out-of-fold table."""

    def summary(metas: list[FoldMeta], oof: pd.DataFrame) -> dict:
        per_fold = [{"fold": m.fold, **m.metrics, "selected_epoch": m.selected_epoch} for m in metas]
        return {**extra, **summarize(per_fold, oof, seed=cfg.seed, n_folds=n_folds)}

    return summary


def _shared(d: Dist, fn: Callable):
    """Run ``fn`` on rank 0 and hand its result (or its InputError) to every rank."""
    result, err = None, None
    if d.is_main:
        try:
            result = fn()
        except InputError as e:
            err = str(e)
    result, err = d.broadcast((result, err))
    if err is not None:
        raise InputError(err)
    return result


def train_cv(
    cohort: Cohort,
    cfg: TrainConfig,
    out: str | Path,
    *,
    force: bool = False,
    dist: Dist | None = None,
    progress: bool = True,
    on_record: Callable[[dict], None] | None = None,
    only_folds: list[int] | None = None,
) -> dict:
    """Cross-validate ``cfg`` on ``cohort`` into the run folder ``out``; returns the summary dict.

    Args:
        force: start afresh in a folder made with a different config (old results moved aside).
        dist: the process group (default: single process).
        progress: show a tqdm bar (rank 0, stderr).
        on_record: also called with every progress record (the dashboard's live view).
        only_folds: train just these fold numbers (the rest stay as they are).

    Raises:
        InputError (nothing overwritten): a training fold without events, fewer
        patients than folds, a modality the model needs but the cohort lacks, a
        run folder made with another config, a folder in use by another process.
    """
    d = dist or Dist()
    threads = torch.get_num_threads()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    try:
        return _train_cv(cohort, cfg, out, force, d, progress, on_record, only_folds)
    finally:
        torch.set_num_threads(threads)


def _train_cv(cohort, cfg, out, force, d, progress, on_record, only_folds) -> dict:
    mcfg = resolve_model_config(cohort, cfg)
    folds, source, excluded = usable_folds(cohort, cfg, mcfg)
    record = {
        "train": cfg.to_dict(),
        "model": mcfg.to_dict(),
        "cohort": {"name": cohort.name, "n_patients": len(cohort.patients), "excluded": excluded},
        "fold_source": source,
        "folds": [{"train": list(f.train), "val": list(f.val)} for f in folds],
    }
    run = RunFolder(out)
    finished = _shared(d, lambda: run.start(record, force=force, defaults={"train": json.loads(json.dumps(TrainConfig().to_dict()))}))
    todo = [k for k in range(len(folds)) if k not in finished and (only_folds is None or k in only_folds)]
    extra = {"cohort": cohort.name, "model": mcfg.model, "fold_source": source, "excluded": excluded}

    def log(rec: dict) -> None:
        if d.is_main:
            run.log(**rec)
        if on_record is not None and d.is_main:
            on_record(rec)

    try:
        log({"event": "run_start" if not finished else "resume", "folds": len(folds), "skipping": finished, "world": d.world})
        summary = None
        for k in todo:
            summary = _train_one_fold(cohort, cfg, mcfg, folds[k], k, len(folds), run, d, log, progress, extra)
        if d.is_main and summary is None:
            summary = run.rebuild(_cv_summary(len(folds), cfg, extra))
        if d.is_main and (todo or not run.paths.calibration.is_file()) and len(run.finished_folds()) == len(folds):
            log(_calibrate(run.path, cohort))
        log({"event": "run_end", "finished": run.finished_folds() if d.is_main else None})
        d.barrier()
        return summary if d.is_main else {}
    finally:
        if d.is_main:
            run.release()


def _calibrate(run_dir: Path, cohort: Cohort) -> dict:
    """Every fold finished: fit and store the run's calibration (:func:`.scoring.calibrate_and_store`).

    Returns the progress record. A cohort too small to calibrate is not a training
    failure: the record says why, and the pages and ``memamba predict`` say the run has no calibration.
    """
    from .scoring import calibrate_and_store

    try:
        maps = calibrate_and_store(run_dir, cohort)
    except (InputError, ValueError, np.linalg.LinAlgError) as err:  # a degenerate sample: the run is still complete
        return {"event": "calibration", "ok": False, "error": str(err)}
    return {"event": "calibration", "ok": True, "folds": sorted(maps),
            "horizon_limit": {str(k): round(m.horizon_limit, 2) for k, m in maps.items()}}


@dataclasses.dataclass
class FoldData:
    """One fold's inputs, everything fitted on its training patients: scaler, time-bin edges, examples."""

    scaler: object | None  # GenomicScaler (None without genomics)
    cuts: np.ndarray  # (K − 1,) bin edges: quartiles of the training fold's uncensored times
    train: list  # list[Example]
    val: list  # list[Example]


def prepare_fold(cohort: Cohort, cfg: TrainConfig, mcfg: ModelConfig, train_ids, val_ids) -> FoldData:
    """Scaler and bins from ``train_ids`` only, then the examples of both parts."""
    use_g = model_modalities(mcfg)[1]
    scaler = cohort.fit_scaler(train_ids) if use_g else None
    tr_p = [cohort.patient(c) for c in train_ids]
    cuts = bin_edges(np.array([p.survival_months for p in tr_p]), np.array([p.censorship for p in tr_p]), cfg.n_bins)
    return FoldData(scaler, cuts, make_examples(cohort, train_ids, mcfg, scaler, cuts), make_examples(cohort, val_ids, mcfg, scaler, cuts))


def new_model(mcfg: ModelConfig, cfg: TrainConfig, fold: int, d: Dist):
    """A freshly initialised model for ``fold``, seeded by (cfg.seed, fold), on the rank's device."""
    torch.manual_seed(cfg.seed * 1009 + fold)
    return build_model(mcfg).to(d.device)


def _train_one_fold(cohort, cfg, mcfg, split: Split, k: int, n_folds: int, run: RunFolder, d: Dist, log, progress, extra) -> dict | None:
    t0 = time.perf_counter()
    use_p, use_g = model_modalities(mcfg)
    data = prepare_fold(cohort, cfg, mcfg, split.train, split.val)
    scaler, cuts, train_ex, val_ex = data.scaler, data.cuts, data.train, data.val
    log({"event": "fold_start", "fold": k, "n_train": len(train_ex), "n_val": len(val_ex)})
    model = new_model(mcfg, cfg, k, d)
    wrapped = wrap_model(model, d)
    bar = _progress_bar(cfg.epochs * len(train_ex), f"fold {k + 1}/{n_folds}", progress and d.is_main)
    state = {"c": None}

    def on_step(n: int, running: float) -> None:
        if bar is not None:
            bar.update(n)
            bar.set_postfix(loss=f"{running:.4f}", c_index="-" if state["c"] is None else f"{state['c']:.3f}")

    def on_epoch(rec: dict) -> None:
        state["c"] = rec.get("train_c_index")
        log(rec)

    try:
        fit = fit_fold(wrapped, train_ex, cfg, k, d, monitor=val_ex, log=on_epoch, on_step=on_step)
    finally:
        if bar is not None:
            bar.close()
    risk, surv = predict_examples(model, val_ex, d)
    summary = None
    if d.is_main:
        metrics = fold_metrics([e.time for e in train_ex], [e.censorship for e in train_ex],
                               [e.time for e in val_ex], [e.censorship for e in val_ex], risk, surv, cuts)
        run.write_fold_predictions(k, val_frame(k, val_ex, risk, surv))
        meta = FoldMeta(
            fold=k,
            model_config=mcfg.to_dict(),
            train_config=cfg.to_dict(),
            scaler=scaler.to_dict() if scaler is not None else None,
            cuts=tuple(float(c) for c in cuts),
            groups=cohort.groups.to_dict() if (use_g and cohort.groups is not None) else None,
            feature_dim=mcfg.path_input_dim if use_p else None,
            cohort=cohort.name,
            metrics=metrics,
            selected_epoch=fit.selected_epoch,
            train_case_ids=tuple(e.case_id for e in train_ex),
            val_case_ids=tuple(e.case_id for e in val_ex),
            train_survival={"times": [e.time for e in train_ex], "censorship": [e.censorship for e in train_ex]},
            history=fit.history,
            seconds=time.perf_counter() - t0,
        )
        save_fold(run.fold(k).dir, model, meta)
        summary = run.rebuild(_cv_summary(n_folds, cfg, extra))
        log({"event": "fold_end", "fold": k, "metrics": {m: metrics.get(m) for m in ("c_index", "ipcw_c_index", "integrated_brier", "mean_auc")},
             "seconds": meta.seconds})
    d.barrier()
    return summary
