"""The ablation grid: every switch of the model config off in turn, and each modality alone, under the same CV.

Each variant is a full cross-validated run in the variant folder ``<out>/<variant>/``
(so each resumes on its own), with the same folds, seed and training config; only
the model config differs. The ablation table (one row per variant; its columns and
its place in ``<out>`` are :mod:`memamba_core.runs.ablations`'s) is rewritten after
each variant. Which switches a model has comes from the model registry.

Under torchrun with fold-parallel work (``parallel``, as for :func:`~.cv.train_cv`)
every (variant, fold) cell of the grid is one item spread over the ranks
(:func:`~.cv.train_cells`): all variant folders are opened first, the cells run
on whichever rank the plan gives them, and rank 0 rebuilds each variant's
outputs and the table at the end. Data-parallel runs the variants in turn.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import pandas as pd

from ..data import Cohort
from ..errors import InputError
from ..outputs import check_output_folder, cohort_reads
from ..models.registry import check_choice, model_entry
from ..runs import RunPaths, ablation_row, write_ablation_table
from .config import TrainConfig
from .cv import open_cv, parallel_mode, train_cells, train_cv
from .distributed import Dist

__all__ = ["ablation_grid", "run_ablations"]


def ablation_grid(cfg: TrainConfig) -> dict[str, dict]:
    """Variant name → model-config changes (``full`` = no change).

    One variant per ablation switch the model honours (its registry entry's
    ``switches``), unless already off in ``cfg``; and, for a model that reads both
    modalities with ``modalities="both"``, each modality alone.
    """
    m = cfg.model
    entry = model_entry(m.model)
    grid: dict[str, dict] = {"full": {}}
    for name in ("scan_forward", "scan_reverse", "scan_ranked"):
        if name in entry.switches and getattr(m, name):
            grid[f"no_{name}"] = {name: False}
    if "ot" in entry.switches and m.ot != "off":
        grid["no_ot"] = {"ot": "off"}
    if "ot" in entry.switches and m.ot != "sinkhorn":
        grid["ot_sinkhorn"] = {"ot": "sinkhorn"}
    if "mmd_weight" in entry.switches and m.mmd_weight > 0:
        grid["no_mmd"] = {"mmd_weight": 0.0}
    if "interleave" in entry.switches and m.interleave:
        grid["concatenated"] = {"interleave": False}
    if len(entry.reads) == 2 and m.modalities == "both":
        grid["pathology_only"] = {"modalities": "pathology"}
        grid["genomics_only"] = {"modalities": "genomics"}
    return grid


def run_ablations(
    cohort: Cohort,
    cfg: TrainConfig,
    out: str | Path,
    *,
    variants: list[str] | None = None,
    force: bool = False,
    dist: Dist | None = None,
    progress: bool = True,
    on_record: Callable[[dict], None] | None = None,
    parallel: str = "auto",
) -> pd.DataFrame:
    """Run the grid (or the named ``variants``) into the ablation folder ``out`` and write its table; returns the table.

    ``parallel`` (under torchrun): ``"folds"`` spreads the grid's (variant, fold) cells over the ranks,
    ``"data"`` runs each variant data-parallel in turn, ``"auto"`` takes folds when there are at least as
    many cells left as ranks (:func:`~.cv.parallel_mode`).
    """
    check_choice("parallel", parallel, "--parallel")
    grid = ablation_grid(cfg)
    if variants:
        unknown = [v for v in variants if v not in grid]
        if unknown:
            raise InputError(f"unknown ablation variant(s) {', '.join(unknown)}; choose from {', '.join(grid)}.")
        grid = {k: v for k, v in grid.items() if k in variants}
    out = check_output_folder(out, reads=cohort_reads(cohort))
    foreign = RunPaths(out).foreign_ablation_entries()
    if foreign:
        raise InputError(f"{out}: the folder holds {', '.join(foreign[:5])}, which no ablation run of ours leaves there, so "
                         f"it is not an ablation folder of ours — not even --force writes into it; choose a new --out "
                         f"folder (nothing was written).")
    d = dist or Dist()
    configs = {name: dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **changes)) for name, changes in grid.items()}
    if d.active and parallel != "data":
        table = _ablate_cells(cohort, configs, grid, out, d, force, progress, on_record, parallel)
        if table is not None:
            return table
        force = False  # the folders were opened (and moved aside if asked) already
    return _ablate_in_turn(cohort, configs, grid, out, d, force, progress, on_record)


def _ablate_in_turn(cohort, configs, grid, out, d: Dist, force, progress, on_record) -> pd.DataFrame:
    """Each variant's cross-validation in turn (data-parallel under torchrun); the table after each."""
    rows = []
    for name, changes in grid.items():
        if on_record is not None:
            on_record({"event": "variant", "variant": name, "changes": changes})
        summary = train_cv(cohort, configs[name], RunPaths(out).variant(name).root, force=force, dist=d, progress=progress,
                           on_record=on_record, parallel="data")
        if not d.is_main:
            continue
        rows.append(ablation_row(name, changes, summary))
        write_ablation_table(out, rows)
    return pd.DataFrame(rows)


def _ablate_cells(cohort, configs, grid, out, d: Dist, force, progress, on_record, parallel) -> pd.DataFrame | None:
    """The grid's folds as one pool of (variant, fold) cells over the ranks; then rank 0 rebuilds every
    variant and writes the table. None (nothing trained) when ``auto`` finds fewer cells left than ranks."""
    jobs = []
    try:
        for name, vcfg in configs.items():
            jobs.append(open_cv(cohort, vcfg, RunPaths(out).variant(name).root, d, force=force, label=name))
        mode = parallel_mode(parallel, d, sum(len(j.todo) for j in jobs))
        if mode != "folds":
            return None
        if d.is_main:
            for job in jobs:
                job.run.log(event="run_start" if not job.finished else "resume", folds=len(job.folds),
                            skipping=job.finished, world=d.world, parallel=mode)
        train_cells(jobs, d, progress=progress, on_record=on_record)
        rows = []
        if d.is_main:
            for (name, changes), job in zip(grid.items(), jobs):
                summary = job.rebuild()
                job.run.log(event="run_end", finished=job.run.finished_folds())
                rows.append(ablation_row(name, changes, summary))
            write_ablation_table(out, rows)
        d.barrier()
        return pd.DataFrame(rows)
    finally:
        if d.is_main:
            for job in jobs:
                job.release()
