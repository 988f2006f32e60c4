"""The ablation table: one row per variant of a cross-validated ablation run.

Columns: ``variant``, ``changes`` (the model-config changes as JSON, ``{}`` for
``full``), ``<metric>_mean`` and ``<metric>_std`` for every metric of the runs'
summaries (c_index, ipcw_c_index, integrated_brier, mean_auc), and
``c_index_fold_<k>`` per fold.

Where it lives (:attr:`RunPaths.ablations <memamba_core.runs.layout.RunPaths.ablations>`,
the one place both writer and reader use; file names in :mod:`memamba_core.runs.layout`):

- the ablation table of an ablation folder ``<out>``, whose variants are the run
  folders ``<out>/<variant>/`` (``memamba ablate``);
- the same file inside a shipped run folder: the place where the demo asset ships
  its cross-validated ablation table (in ``assets/demo-model-full/``: the table of
  the ablation run whose ``full`` variant has the checkpoint's recipe), next to
  that checkpoint.

:func:`ablation_table` finds the table for a run folder, a fold folder, an
ablation folder or a variant folder, whichever of these the caller holds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..paths import atomic_write_text
from .layout import RunPaths, fold_number

__all__ = ["ablation_row", "write_ablation_table", "read_ablation_table", "ablation_table"]


def ablation_row(variant: str, changes: dict, summary: dict) -> dict:
    """One table row from a variant's cross-validated summary (``mean``, ``std``, ``folds`` as ``train_cv`` returns)."""
    row = {"variant": variant, "changes": json.dumps(changes, sort_keys=True)}
    for metric, value in summary.get("mean", {}).items():
        row[f"{metric}_mean"] = value
        row[f"{metric}_std"] = summary.get("std", {}).get(metric)
    for f in summary.get("folds", []):
        row[f"c_index_fold_{f['fold']}"] = f.get("c_index")
    return row


def write_ablation_table(out_dir: str | Path, rows: list[dict]) -> pd.DataFrame:
    """Write the table of ``rows`` into the ablation folder ``out_dir`` (atomically); returns it."""
    table = pd.DataFrame(rows)
    atomic_write_text(RunPaths(out_dir).ablations, table.to_csv(index=False, float_format="%.4f"))
    return table


def read_ablation_table(path: str | Path) -> pd.DataFrame:
    """A validated ablation table: a ``variant`` column of unique names, metric columns numeric (blank = undefined).

    InputError naming the file and what is wrong (unreadable, no ``variant``, a
    duplicated variant, a non-numeric or infinite metric value).
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype={"variant": str, "changes": str})
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as err:
        raise InputError(f"{path}: cannot be read as an ablation table ({err}); rerun `memamba ablate` to rebuild it.") from err
    if "variant" not in table.columns:
        raise InputError(f"{path}: has no 'variant' column; it is not an ablation table written by `memamba ablate`.")
    dup = table["variant"][table["variant"].duplicated()].tolist()
    if dup:
        raise InputError(f"{path}: variant(s) {', '.join(map(str, dup))} appear twice; rerun `memamba ablate` to rebuild it.")
    for col in table.columns:
        if col in ("variant", "changes"):
            continue
        values = pd.to_numeric(table[col], errors="coerce")
        bad = (values.isna() & table[col].notna()) | np.isinf(values.fillna(0.0))
        if bad.any():
            rows = ", ".join(str(i + 2) for i in np.flatnonzero(bad.to_numpy())[:5])
            raise InputError(f"{path}: column {col} has non-numeric or infinite values (rows {rows}); "
                             f"rerun `memamba ablate` to rebuild it.")
        table[col] = values
    return table


def ablation_table(run_dir: str | Path) -> pd.DataFrame | None:
    """The ablation table that belongs to ``run_dir``, or None when there is none.

    ``run_dir`` may be a fold folder (its run folder is used), a run folder that
    ships a table (``RunPaths(run).ablations``), an ablation folder
    (``RunPaths(out).ablations``), or a variant folder ``<out>/<variant>/`` of an ablation
    folder whose table lists that variant.
    """
    run = Path(run_dir).expanduser().resolve()
    if fold_number(run) is not None:
        run = run.parent
    own = RunPaths(run).ablations
    if own.is_file():
        return read_ablation_table(own)
    parent = RunPaths(run.parent).ablations
    if parent.is_file():
        table = read_ablation_table(parent)
        if run.name in set(table["variant"]):
            return table
    return None
