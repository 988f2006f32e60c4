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

Under torchrun (``parallel``, see :func:`parallel_mode`): ``"data"`` runs the folds
one after another, each optimiser step's patients split over the ranks
(:mod:`memamba_core.train.distributed`); ``"folds"`` gives each rank whole folds
(:func:`train_cells` over :func:`memamba_core.sharding.run_sharded`): a fold
trains in its rank's process alone, exactly as in a one-process run (same
seeds, same numbers), writes its own fold folder, and rank 0 rebuilds the run
outputs when every rank is done. ``"auto"`` picks folds when there are at least
as many folds to train as ranks.
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
from ..outputs import check_output_folder, cohort_reads
from ..models.registry import check_choice
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
           "val_frame", "parallel_mode", "CvJob", "open_cv", "train_cells"]


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


def _progress_bar_percent(desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=100, desc=desc, unit="%", leave=True, dynamic_ncols=True, file=sys.stderr)


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


def parallel_mode(parallel: str, d: Dist, n_todo: int) -> str:
    """``"data"`` or ``"folds"``: how ``n_todo`` folds (or ablation cells) are spread over the ranks of ``d``.

    ``parallel``: ``"folds"`` (each rank trains whole folds), ``"data"`` (every rank
    takes part in every fold's optimiser steps) or ``"auto"`` (folds when
    ``n_todo >= d.world``, else data). One process always runs ``"data"`` (nothing
    to split). InputError for another value.
    """
    check_choice("parallel", parallel, "--parallel")
    if not d.active:
        return "data"
    if parallel == "auto":
        return "folds" if n_todo >= d.world else "data"
    return parallel


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
    parallel: str = "auto",
) -> dict:
    """Cross-validate ``cfg`` on ``cohort`` into the run folder ``out``; returns the summary dict.

    Args:
        force: start afresh in a folder made with a different config (old results moved aside).
        dist: the process group (default: single process).
        progress: show a tqdm bar (rank 0, stderr).
        on_record: also called with every progress record (the dashboard's live view).
        only_folds: train just these fold numbers (the rest stay as they are).
        parallel: under torchrun, ``"folds"``, ``"data"`` or ``"auto"`` (:func:`parallel_mode`);
            the results do not depend on it beyond float rounding of data parallelism.

    Raises:
        InputError (nothing overwritten): a training fold without events, fewer
        patients than folds, a modality the model needs but the cohort lacks, a
        run folder made with another config, a folder in use by another process.
        ShardAborted (fold-parallel): another rank stopped with an error (rerun to resume).
    """
    d = dist or Dist()
    threads = torch.get_num_threads()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    try:
        return _train_cv(cohort, cfg, out, force, d, progress, on_record, only_folds, parallel)
    finally:
        torch.set_num_threads(threads)


@dataclasses.dataclass
class CvJob:
    """A cross-validated run opened on every rank: its resolved configs, folds and run folder, and the folds left.

    Rank 0 holds the run folder's lock from :func:`open_cv` until :meth:`release`.
    """

    cohort: Cohort
    cfg: TrainConfig
    mcfg: ModelConfig
    folds: list[Split]
    run: RunFolder
    finished: list[int]  # folds already done when the run was opened (skipped)
    todo: list[int]  # folds to train now
    extra: dict  # what the summary adds to the metrics (cohort, model, fold source, excluded)
    label: str = ""  # e.g. the ablation variant, for progress messages

    def rebuild(self) -> dict:
        """Rank 0: the out-of-fold table and the summary from the finished folds; returns the summary."""
        return self.run.rebuild(_cv_summary(len(self.folds), self.cfg, self.extra))

    def release(self) -> None:
        self.run.release()


def open_cv(cohort: Cohort, cfg: TrainConfig, out: str | Path, d: Dist, *, force: bool = False,
            only_folds: list[int] | None = None, label: str = "") -> CvJob:
    """Resolve ``cfg`` on ``cohort``, then create or resume the run folder ``out`` (rank 0) — on every rank.

    Every rank gets the same folds left to train (rank 0's view, broadcast). Raises
    InputError on every rank for what :func:`train_cv` refuses.
    """
    mcfg = resolve_model_config(cohort, cfg)
    folds, source, excluded = usable_folds(cohort, cfg, mcfg)
    record = {
        "train": cfg.to_dict(),
        "model": mcfg.to_dict(),
        "cohort": {"name": cohort.name, "n_patients": len(cohort.patients), "excluded": excluded},
        "fold_source": source,
        "folds": [{"train": list(f.train), "val": list(f.val)} for f in folds],
    }
    out = check_output_folder(out, reads=cohort_reads(cohort))
    run = RunFolder(out)
    finished = _shared(d, lambda: run.start(record, force=force, defaults={"train": json.loads(json.dumps(TrainConfig().to_dict()))}))
    todo = [k for k in range(len(folds)) if k not in finished and (only_folds is None or k in only_folds)]
    extra = {"cohort": cohort.name, "model": mcfg.model, "fold_source": source, "excluded": excluded}
    return CvJob(cohort, cfg, mcfg, folds, run, finished, todo, extra, label)


def _run_logger(job: CvJob, d: Dist, on_record, rank_tag: bool = False) -> Callable[[dict], None]:
    """A progress-record writer for ``job``: rank 0 writes (and passes records to ``on_record``); with
    ``rank_tag`` (fold-parallel) every rank writes its own folds' records, tagged with its rank."""

    def log(rec: dict) -> None:
        if rank_tag:
            rec = {**rec, "rank": d.rank}
        if d.is_main or rank_tag:
            job.run.log(**rec)
        if on_record is not None and d.is_main:
            on_record(rec)

    return log


def _train_cv(cohort, cfg, out, force, d, progress, on_record, only_folds, parallel) -> dict:
    check_choice("parallel", parallel, "--parallel")
    job = open_cv(cohort, cfg, out, d, force=force, only_folds=only_folds)
    log = _run_logger(job, d, on_record)
    try:
        mode = parallel_mode(parallel, d, len(job.todo))
        log({"event": "run_start" if not job.finished else "resume", "folds": len(job.folds), "skipping": job.finished,
             "world": d.world, "parallel": mode})
        summary = None
        if mode == "folds":
            train_cells([job], d, progress=progress, on_record=on_record)
        else:
            for k in job.todo:
                summary = _train_one_fold(job, k, d, log, progress)
        if d.is_main and summary is None:
            summary = job.rebuild()
        if d.is_main and (job.todo or not job.run.paths.calibration.is_file()) and len(job.run.finished_folds()) == len(job.folds):
            log(_calibrate(job.run.path, cohort))
        log({"event": "run_end", "finished": job.run.finished_folds() if d.is_main else None})
        d.barrier()
        return summary if d.is_main else {}
    finally:
        if d.is_main:
            job.release()


def train_cells(jobs: list[CvJob], d: Dist, *, progress: bool = True, on_record: Callable[[dict], None] | None = None):
    """Train the folds left of every job, whole folds spread over the ranks of ``d`` (fold-parallel).

    Each cell (job, fold) runs on exactly one rank, alone in its process — the
    same computation as a one-process run — and writes its own fold folder
    (:func:`memamba_core.sharding.run_sharded`: a deterministic plan, rank 0's
    progress bar over all ranks, an exception on one rank stops the others after
    their current fold with :class:`~memamba_core.sharding.ShardAborted`). Every
    rank calls it with the same jobs. Rebuilding the run outputs is the caller's
    (rank 0, after this returns). Returns the :class:`~memamba_core.sharding.ShardReport`.
    """
    from ..sharding import Outcome, run_sharded

    local = Dist(0, 1, d.device)  # a fold trains in this process alone
    cells = {f"{i}:{k}": (job, k) for i, job in enumerate(jobs) for k in job.todo}
    loggers = [_run_logger(job, d, on_record, rank_tag=True) for job in jobs]
    bar = _progress_bar_percent("folds", progress and d.is_main)

    def work(key: str, tick) -> Outcome:
        job, k = cells[key]
        name = f"{job.label} fold {k}" if job.label else f"fold {k}"
        _train_one_fold(job, k, local, loggers[int(key.split(':')[0])], False,
                        tick=lambda f, msg: tick(f, f"{name}: {msg}"), rebuild=False)
        return Outcome(True, units=1)

    def show(p) -> None:
        if bar is not None:
            bar.n = round(100 * p.fraction, 1)
            bar.set_postfix_str(p.message[-60:])
            bar.refresh()

    threads = torch.get_num_threads()
    if jobs and jobs[0].cfg.num_threads:
        torch.set_num_threads(jobs[0].cfg.num_threads)
    try:
        return run_sharded(list(cells), work, dist=d, cost=[float(len(job.folds[k].train) * job.cfg.epochs)
                                                             for job, k in cells.values()], progress=show)
    finally:
        torch.set_num_threads(threads)
        if bar is not None:
            bar.close()


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


def _train_one_fold(job: CvJob, k: int, d: Dist, log, progress, *, tick=None, rebuild: bool = True) -> dict | None:
    """Train fold ``k`` of ``job`` on the ranks of ``d`` and write its folder (rank 0 of ``d``); with ``rebuild``
    the run outputs are rebuilt after it (returns the summary on rank 0). ``tick(fraction, message)``: progress."""
    cohort, cfg, mcfg, split, run, n_folds = job.cohort, job.cfg, job.mcfg, job.folds[k], job.run, len(job.folds)
    t0 = time.perf_counter()
    use_p, use_g = model_modalities(mcfg)
    data = prepare_fold(cohort, cfg, mcfg, split.train, split.val)
    scaler, cuts, train_ex, val_ex = data.scaler, data.cuts, data.train, data.val
    log({"event": "fold_start", "fold": k, "n_train": len(train_ex), "n_val": len(val_ex)})
    model = new_model(mcfg, cfg, k, d)
    wrapped = wrap_model(model, d)
    bar = _progress_bar(cfg.epochs * len(train_ex), f"fold {k + 1}/{n_folds}", progress and d.is_main)
    state = {"c": None, "seen": 0}
    total = max(1, cfg.epochs * len(train_ex))

    def on_step(n: int, running: float) -> None:
        state["seen"] += n
        if tick is not None:
            tick(state["seen"] / total, f"loss {running:.4f}")
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
        if rebuild:
            summary = job.rebuild()
        log({"event": "fold_end", "fold": k, "metrics": {m: metrics.get(m) for m in ("c_index", "ipcw_c_index", "integrated_brier", "mean_auc")},
             "seconds": meta.seconds})
    d.barrier()
    return summary
