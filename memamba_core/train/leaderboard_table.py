"""The leaderboard table of a benchmark folder: per cell mean C-index with a CI, paired gaps, a plot.

Glossary: F folds, P_f validation patients of fold f, B bootstrap resamples.

* **Per cell**: the mean over folds of the validation C-index (Harrell), its sd
  over folds, and a 95 % percentile bootstrap CI of that mean — patients are
  resampled with replacement *within each fold* (B resamples, seed 0), the
  per-fold C-indices recomputed and averaged. Also the mean IPCW C-index and the
  mean integrated Brier score (IBS) of the folds — of the model's own survival
  curves, and of its calibrated curves (every cell calibrated the same way:
  :func:`memamba_core.train.scoring.calibrate_stored`) beside the Kaplan–Meier
  null's, with the paired bootstrap interval of the gain (the cell summary's
  ``calibrated``; blank for a cell trained before it was kept).
* **Paired gaps** (same cohort × endpoint, so the same patients in the same
  folds): model A − model B of the mean C-index, with a CI from the *same*
  resamples applied to both models (paired bootstrap), and the share of
  resamples in which A is not better (``p_not_better``). Pairs: each model
  against ``coxnet``, and ``memamba_clinical`` against ``memamba_genomics`` and
  ``clinical_cox``, where both cells exist.

Written as ``leaderboard.csv`` (one row per cell), ``leaderboard_gaps.csv``,
``leaderboard.json`` (everything, with the protocol card and the wall time),
``leaderboard.md`` and ``leaderboard.png``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..paths import atomic_write, atomic_write_text
from ..runs import read_oof, read_summary
from ..survival.metrics import _harrell

__all__ = ["cell_rows", "paired_gaps", "write_leaderboard", "leaderboard_figure", "GAP_PAIRS", "TABLE_FILES"]

TABLE_FILES = {"csv": "leaderboard.csv", "gaps": "leaderboard_gaps.csv", "json": "leaderboard.json",
               "md": "leaderboard.md", "png": "leaderboard.png"}
GAP_PAIRS = (("memamba_genomics", "coxnet"), ("snn", "coxnet"), ("memamba_clinical", "coxnet"),
             ("memamba_clinical", "memamba_genomics"), ("memamba_clinical", "clinical_cox"), ("clinical_cox", "coxnet"))


def _folds_of(frame: pd.DataFrame) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """fold → (case ids sorted, times, events, risk) of a cell's out-of-fold table."""
    out = {}
    for k, part in frame.groupby("fold", sort=True):
        part = part.sort_values("case_id")
        out[int(k)] = (part["case_id"].to_numpy(str), part["survival_months"].to_numpy(float),
                       (part["censorship"].to_numpy(int) == 0), part["risk"].to_numpy(float))
    return out


def _resamples(folds: dict, n_boot: int, seed: int = 0) -> list[dict[int, np.ndarray]]:
    """B resamples: per fold, indices drawn with replacement within the fold (seeded)."""
    rng = np.random.default_rng(seed)
    return [{k: rng.integers(0, v[0].size, size=v[0].size) for k, v in folds.items()} for _ in range(n_boot)]


def _mean_c(folds: dict, idx: dict | None = None) -> float:
    vals = []
    for k, (_, t, e, r) in folds.items():
        i = idx[k] if idx is not None else slice(None)
        vals.append(_harrell(t[i], e[i], r[i]))
    return float(np.mean(vals))


def _boot(folds_list: list[dict], n_boot: int, stat) -> np.ndarray:
    """``stat(values per model)`` over B resamples shared by the models (InputError resamples skipped)."""
    out = []
    for idx in _resamples(folds_list[0], n_boot):
        try:
            out.append(stat([_mean_c(f, idx) for f in folds_list]))
        except InputError:
            continue
    return np.asarray(out)


def _ci(vals: np.ndarray) -> tuple[float | None, float | None]:
    if vals.size < 10:
        return None, None
    lo, hi = np.quantile(vals, [0.025, 0.975])
    return float(lo), float(hi)


def _mean_metric(summary: dict, name: str) -> float | None:
    vals = [f.get(name) for f in summary.get("folds", []) if f.get(name) is not None]
    return float(np.mean(vals)) if vals else None


def _calibrated(summary: dict) -> dict:
    """The cell's calibrated IBS against the KM null (its summary's ``calibrated`` mean), or Nones when it has none."""
    cal = summary.get("calibrated") or {}
    mean = cal.get("mean") or {}
    return {"ibs_calibrated": mean.get("ibs_model"), "ibs_km": mean.get("ibs_km"), "ibs_gain_low": mean.get("ibs_gain_low"),
            "ibs_gain_high": mean.get("ibs_gain_high"), "vs_km": mean.get("vs_km"),
            "calibration_error": cal.get("error") if cal else ("trained before calibration was kept" if summary.get("complete")
                                                                else "not every fold is finished")}


def cell_rows(out: Path, cells, n_boot: int = 1000) -> tuple[list[dict], dict]:
    """One row per cell with finished folds, and {cell key: its fold data} for the paired gaps."""
    from .leaderboard import cell_dir

    rows, data = [], {}
    for cell in cells:
        folder = cell_dir(out, cell.key)
        summary = read_summary(folder) if folder.is_dir() else None
        oof = read_oof(folder) if folder.is_dir() else None
        if summary is None or oof is None or not summary.get("folds"):
            rows.append({"cohort": cell.cohort_name, "endpoint": cell.endpoint, "model": cell.model, "n_folds": 0,
                         "complete": False})
            continue
        folds = _folds_of(oof.frame)
        data[cell.key] = folds
        per_fold = [f.get("c_index") for f in summary["folds"]]
        lo, hi = _ci(_boot([folds], n_boot, lambda v: v[0]))
        rows.append({
            "cohort": cell.cohort_name, "endpoint": cell.endpoint, "model": cell.model,
            "n_folds": len(per_fold), "complete": bool(summary.get("complete")),
            "n_patients": int(sum(v[0].size for v in folds.values())),
            "n_events": int(sum(v[2].sum() for v in folds.values())),
            "mean_c_index": float(np.mean(per_fold)), "sd_c_index": float(np.std(per_fold, ddof=1)) if len(per_fold) > 1 else None,
            "ci_low": lo, "ci_high": hi,
            "ipcw_c_index": _mean_metric(summary, "ipcw_c_index"), "integrated_brier": _mean_metric(summary, "integrated_brier"),
            **_calibrated(summary),
            "fold_c_index": [round(float(c), 4) for c in per_fold],
            "chosen": [f.get("chosen") for f in summary["folds"]],
            "seconds": float(sum(f.get("seconds") or 0.0 for f in summary["folds"])),
        })
    return rows, data


def paired_gaps(cells, data: dict, n_boot: int = 1000) -> list[dict]:
    """Mean C-index gaps A − B of :data:`GAP_PAIRS` in each cohort × endpoint, with paired bootstrap CIs."""
    by = {(c.cohort_slug, c.endpoint, c.model): c for c in cells}
    out = []
    for (slug, endpoint, model), cell in by.items():
        for a, b in GAP_PAIRS:
            if model != a or (slug, endpoint, b) not in by:
                continue
            ka, kb = cell.key, by[(slug, endpoint, b)].key
            if ka not in data or kb not in data:
                continue
            fa, fb = data[ka], data[kb]
            if sorted(fa) != sorted(fb) or any(not np.array_equal(fa[k][0], fb[k][0]) for k in fa):
                raise InputError(f"leaderboard: cells {ka} and {kb} were scored on different patients; rerun them "
                                 "under one protocol (the same folds).")
            diffs = _boot([fa, fb], n_boot, lambda v: v[0] - v[1])
            lo, hi = _ci(diffs)
            out.append({"cohort": cell.cohort_name, "endpoint": endpoint, "model": a, "versus": b,
                        "gap": _mean_c(fa) - _mean_c(fb), "ci_low": lo, "ci_high": hi,
                        "p_not_better": float((diffs <= 0).mean()) if diffs.size else None,
                        "folds_better": int(sum(_mean_c({k: fa[k]}) > _mean_c({k: fb[k]}) for k in fa)), "n_folds": len(fa)})
    return out


def _fmt(v, nd: int = 3) -> str:
    return "–" if v is None else f"{v:.{nd}f}"


def _markdown(rows: list[dict], gaps: list[dict], card: dict, seconds: float, world: int) -> str:
    lines = ["| cohort | endpoint | model | mean C-index | 95 % CI | sd over folds | IPCW C | IBS, model's curves | "
             "IBS, calibrated | IBS, KM null | KM − calibrated, 95 % CI | folds |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if not r.get("n_folds"):
            lines.append(f"| {r['cohort']} | {r['endpoint']} | {r['model']} | (not run) | | | | | | | | 0 |")
            continue
        if r.get("ibs_calibrated") is not None and r.get("ibs_gain_low") is not None:
            gain = f"{r['ibs_km'] - r['ibs_calibrated']:+.3f} ({r['ibs_gain_low']:+.3f} – {r['ibs_gain_high']:+.3f}; {r['vs_km']})"
        else:
            gain = "not calibrated (see calibration_error)" if r.get("calibration_error") else "–"
        lines.append(f"| {r['cohort']} | {r['endpoint'].upper()} | {r['model']} | {_fmt(r['mean_c_index'])} | "
                     f"{_fmt(r['ci_low'])}–{_fmt(r['ci_high'])} | {_fmt(r['sd_c_index'])} | {_fmt(r['ipcw_c_index'])} | "
                     f"{_fmt(r['integrated_brier'])} | {_fmt(r.get('ibs_calibrated'))} | {_fmt(r.get('ibs_km'))} | {gain} | "
                     f"{r['n_folds']}{'' if r['complete'] else ' (incomplete)'} |")
    if gaps:
        lines += ["", "| cohort | endpoint | model − versus | gap (mean C) | paired 95 % CI | folds better | P(not better) |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for g in gaps:
            lines.append(f"| {g['cohort']} | {g['endpoint'].upper()} | {g['model']} − {g['versus']} | {g['gap']:+.3f} | "
                         f"{_fmt(g['ci_low'])}–{_fmt(g['ci_high'])} | {g['folds_better']}/{g['n_folds']} | {_fmt(g['p_not_better'], 2)} |")
    lines += ["", f"Wall time {seconds:.0f} s with {world} process(es)."]
    return "\n".join(lines) + "\n"


def leaderboard_figure(rows: list[dict], ax=None):
    """Mean C-index with its CI per cell (a horizontal dot plot); returns the matplotlib figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r.get("n_folds")]
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 0.35 * max(len(done), 3) + 1))
    else:
        fig = ax.figure
    y = np.arange(len(done))[::-1]
    for yi, r in zip(y, done):
        lo, hi = r["ci_low"], r["ci_high"]
        if lo is not None:
            ax.plot([lo, hi], [yi, yi], color="0.6", lw=2)
        ax.plot([r["mean_c_index"]], [yi], "o", color="C0" if r["model"].startswith("memamba") else "C1")
    ax.set_yticks(y, [f"{r['cohort']} {r['endpoint'].upper()} · {r['model']}" for r in done], fontsize=8)
    ax.axvline(0.5, color="0.8", ls="--", lw=1)
    ax.set_xlabel("mean validation C-index (95 % bootstrap CI)")
    fig.tight_layout()
    return fig


def write_leaderboard(out: Path, cells, card: dict, protocol, *, seconds: float, world: int, failed: dict,
                      owner: dict | None = None) -> dict:
    """Build the table of ``out``'s cells and write :data:`TABLE_FILES` into ``out``; returns the JSON record.

    ``seconds``: wall time of this call's cells (cells finished earlier are skipped, not timed);
    ``owner``: cell → the rank that ran it in this call."""
    rows, data = cell_rows(out, cells, protocol.n_boot)
    gaps = paired_gaps(cells, data, protocol.n_boot)
    record = {"rows": rows, "gaps": gaps, "card": card, "seconds": round(seconds, 1), "processes": world, "failed": failed,
              "owner": owner or {}}
    frame = pd.DataFrame([{k: (json.dumps(v) if isinstance(v, list) else v) for k, v in r.items()} for r in rows])
    atomic_write_text(out / TABLE_FILES["csv"], frame.to_csv(index=False))
    atomic_write_text(out / TABLE_FILES["gaps"], pd.DataFrame(gaps).to_csv(index=False))
    atomic_write_text(out / TABLE_FILES["json"], json.dumps(record, indent=2, allow_nan=False))
    atomic_write_text(out / TABLE_FILES["md"], _markdown(rows, gaps, card, seconds, world))
    if any(r.get("n_folds") for r in rows):
        import matplotlib.pyplot as plt

        fig = leaderboard_figure(rows)
        with atomic_write(out / TABLE_FILES["png"]) as fh:
            fig.savefig(fh, format="png", dpi=120)
        plt.close(fig)
    return record
