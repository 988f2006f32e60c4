"""The ablation grid: every switch of the model config off in turn, and each modality alone, under the same CV.

Each variant is a full cross-validated run in ``<out>/<variant>/`` (so each
resumes on its own), with the same folds, seed and training config; only the
model config differs. ``<out>/ablations.csv`` has one row per variant:
``variant, changes, c_index_mean, c_index_std, ipcw_c_index_mean,
integrated_brier_mean, mean_auc_mean, c_index_fold_<k>…``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

import pandas as pd

from ..data import Cohort
from ..errors import InputError
from ..paths import atomic_write_text
from .config import TrainConfig
from .cv import train_cv
from .distributed import Dist

__all__ = ["ablation_grid", "run_ablations"]


def ablation_grid(cfg: TrainConfig) -> dict[str, dict]:
    """Variant name → model-config changes, for an ME-Mamba config (``full`` = no change).

    Switches already off in ``cfg`` are not repeated. Other models only get the
    modality variants that apply to them.
    """
    m = cfg.model
    grid: dict[str, dict] = {"full": {}}
    if m.model == "memamba":
        for name in ("scan_forward", "scan_reverse", "scan_ranked"):
            if getattr(m, name):
                grid[f"no_{name}"] = {name: False}
        if m.ot != "off":
            grid["no_ot"] = {"ot": "off"}
        if m.ot != "sinkhorn":
            grid["ot_sinkhorn"] = {"ot": "sinkhorn"}
        if m.mmd_weight > 0:
            grid["no_mmd"] = {"mmd_weight": 0.0}
        if m.interleave:
            grid["concatenated"] = {"interleave": False}
    if m.model in ("memamba", "late_fusion") and m.modalities == "both":
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
) -> pd.DataFrame:
    """Run the grid (or the named ``variants``) and write ``<out>/ablations.csv``; returns the table."""
    grid = ablation_grid(cfg)
    if variants:
        unknown = [v for v in variants if v not in grid]
        if unknown:
            raise InputError(f"unknown ablation variant(s) {', '.join(unknown)}; choose from {', '.join(grid)}.")
        grid = {k: v for k, v in grid.items() if k in variants}
    out = Path(out).expanduser().resolve()
    d = dist or Dist()
    rows = []
    for name, changes in grid.items():
        vcfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **changes))
        if on_record is not None:
            on_record({"event": "variant", "variant": name, "changes": changes})
        summary = train_cv(cohort, vcfg, out / name, force=force, dist=d, progress=progress, on_record=on_record)
        if not d.is_main:
            continue
        row = {"variant": name, "changes": json.dumps(changes, sort_keys=True)}
        for metric in ("c_index", "ipcw_c_index", "integrated_brier", "mean_auc"):
            row[f"{metric}_mean"] = summary["mean"].get(metric)
            row[f"{metric}_std"] = summary["std"].get(metric)
        for f in summary["folds"]:
            row[f"c_index_fold_{f['fold']}"] = f.get("c_index")
        rows.append(row)
        table = pd.DataFrame(rows)
        atomic_write_text(out / "ablations.csv", table.to_csv(index=False, float_format="%.4f"))
    return pd.DataFrame(rows)
