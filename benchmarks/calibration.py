"""Calibrated survival probabilities, before and after: per-fold IBS (model vs Kaplan–Meier null) and C-index.

Run from the repository root::

    python benchmarks/calibration.py demo                      # the shipped demo checkpoint on the demo cohort
    python benchmarks/calibration.py demo --inner-work DIR     # + inner cross-fitting (trains 15 demo models; resumable)
    python benchmarks/calibration.py blca --work DIR           # TCGA-BLCA, benchmarks/blca_genomics.py's procedure

What is compared, per outer fold k, on its validation patients (docs/calibration.md):

- ``step``: the model's own K-bin step curves (what the project reported before);
- ``km``: the Kaplan–Meier curve of fold k's training patients given to everyone (the null model);
- ``cross_fold``: the calibration map fitted on the other folds' out-of-fold predictions;
- ``inner``: the map fitted on inner cross-fitted scores of fold k's training patients
  (BLCA: the nested procedure's own inner fits of the chosen candidate; demo: with ``--inner-work``).

BLCA: for each published fold the nested winner is read from
``benchmarks/results/blca_genomics.json`` (the selection is deterministic) and
retrained exactly as :func:`memamba_core.train.nested.train_nested` does: the
inner fits (3 stratified inner folds × 2 seeds, fold key 100(k+1)+j) and the
10-seed ensemble on the whole training fold (fold key k). Each ensemble's
risks of its held-out part (honest scores) and of its own training part (the
scale of the scale-free score) are kept in ``--work`` (one CSV per fold, resumable).

For each map, the gain KM − model of every fold and of the mean gets its paired 95 % bootstrap
interval over the validation patients (``ibs_gain_vs_km``; ``survival.quality.brier_vs_null``), and
``folds_significantly_worse_than_km`` counts the folds whose interval lies below 0.

Writes ``benchmarks/results/calibration_<cohort>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from memamba_core.runs import survival_column_names, survival_columns

REPO = Path(__file__).resolve().parents[1]
GAIN = ["ibs_gain", "ibs_gain_low", "ibs_gain_high"]  # KM null's IBS − the model's, with its interval
sys.path.insert(0, str(REPO / "benchmarks"))


def _ensemble(cohort, cfg, mcfg, data, key: int, seeds: int):
    """Seeds 0 … seeds−1 trained on data.train: mean risk of data.val, mean curves of data.val, mean risk of data.train."""
    from memamba_core.train.cv import new_model
    from memamba_core.train.distributed import Dist
    from memamba_core.train.loop import fit_fold, predict_examples

    d = Dist()
    rv, sv, rt = [], [], []
    for s in range(seeds):
        c = cfg.replace(seed=s)
        m = new_model(mcfg, c, key, d)
        fit_fold(m, data.train, c, key, d)
        a, b = predict_examples(m, data.val, d)
        rv.append(a)
        sv.append(b)
        rt.append(predict_examples(m, data.train, d)[0])
    return np.mean(rv, 0), np.mean(sv, 0), np.mean(rt, 0)


def _inner_parts(cohort, cfg, mcfg, train_ids, outer: int, seeds: int, n_inner: int = 3) -> pd.DataFrame:
    """Inner cross-fitting of one outer fold: rows (case_id, role inner_oof|inner_ref, inner, risk)."""
    from memamba_core.data.splits import make_folds
    from memamba_core.train.cv import prepare_fold

    ids = list(train_ids)
    frames = []
    for j, part in enumerate(make_folds(ids, np.array([cohort.patient(c).event for c in ids]), n_inner, 0)):
        data = prepare_fold(cohort, cfg, mcfg, part.train, part.val)
        rv, _, rt = _ensemble(cohort, cfg, mcfg, data, 100 * (outer + 1) + j, seeds)
        frames += [pd.DataFrame({"case_id": [e.case_id for e in data.val], "role": "inner_oof", "inner": j, "risk": rv}),
                   pd.DataFrame({"case_id": [e.case_id for e in data.train], "role": "inner_ref", "inner": j, "risk": rt})]
    return pd.concat(frames, ignore_index=True)


def _write(path: Path, df: pd.DataFrame) -> None:
    from memamba_core.paths import atomic_write_text

    atomic_write_text(path, df.to_csv(index=False))


def blca_folds(cohort_dir: Path, work: Path) -> None:
    """Stage 1 for BLCA: ``work/fold_<k>.csv`` (inner parts, the ensemble's val risks + curves, its training risks) + cuts."""
    import blca_genomics as B
    from memamba_core.data import load_cohort
    from memamba_core.paths import atomic_write_text
    from memamba_core.train.cv import prepare_fold, resolve_model_config, usable_folds

    cohort = load_cohort(cohort_dir)
    chosen = json.loads((REPO / "benchmarks/results/blca_genomics.json").read_text())["folds"]
    flags = B.candidates()
    for f in chosen:
        k = f["fold"]
        dest = work / f"fold_{k}.csv"
        if dest.exists():
            continue
        t0 = time.perf_counter()
        cfg = B.train_config(cohort_dir, flags[f["chosen"]], 1)
        mcfg = resolve_model_config(cohort, cfg)
        split = usable_folds(cohort, cfg, mcfg)[0][k]
        inner = _inner_parts(cohort, cfg, mcfg, split.train, k, B.INNER_SEEDS, B.N_INNER)
        data = prepare_fold(cohort, cfg, mcfg, split.train, split.val)
        rv, sv, rt = _ensemble(cohort, cfg, mcfg, data, k, B.ENSEMBLE)
        val = pd.DataFrame({"case_id": [e.case_id for e in data.val], "role": "val", "inner": -1, "risk": rv})
        val[survival_columns(sv.shape[1])] = sv
        ref = pd.DataFrame({"case_id": [e.case_id for e in data.train], "role": "ref", "inner": -1, "risk": rt})
        atomic_write_text(work / f"cuts_{k}.json", json.dumps([float(c) for c in data.cuts]))
        _write(dest, pd.concat([inner, val, ref], ignore_index=True).assign(fold=k))
        print(f"fold {k}: {f['chosen']} in {time.perf_counter() - t0:.0f} s", flush=True)


def demo_inner(cohort, models, work: Path) -> None:
    """Stage 1 for the demo's inner cross-fit: ``work/inner_<k>.csv`` per outer fold (the demo recipe, one seed)."""
    from memamba_core.train.cv import resolve_model_config
    from memamba_core.train.demo_model import demo_train_config

    cfg = demo_train_config("full")
    mcfg = resolve_model_config(cohort, cfg)
    for k, m in models.folds.items():
        dest = work / f"inner_{k}.csv"
        if not dest.exists():
            _write(dest, _inner_parts(cohort, cfg, mcfg, m.train_case_ids, k, 1).assign(fold=k))


def evaluate(oof: pd.DataFrame, refs: dict, train: dict, step: dict, inner: pd.DataFrame | None, labels: pd.DataFrame) -> dict:
    """Per fold and mean: IBS of step / KM / cross_fold / inner, C-index, β of each map; pooled C-index of the scale-free score.

    ``oof``: case_id, fold, risk, survival_months, censorship. ``refs``: fold → training risks.
    ``train``: fold → (times, events). ``step``: fold → (survival (P_k, K), cuts). ``inner``: stage-1 inner rows or None.
    """
    from memamba_core.survival.calibration import ScoredPart, fit_calibration, fit_cross_fold
    from memamba_core.survival.metrics import _eval_grid, integrated_brier
    from memamba_core.survival.quality import brier_record, brier_vs_null, calibrated_oof, discrimination

    maps = {"cross_fold": fit_cross_fold(oof["risk"], oof["fold"], oof["survival_months"], 1 - oof["censorship"].to_numpy(int), refs)}
    if inner is not None:
        inner = inner.assign(t=labels.loc[inner.case_id, "survival_months"].to_numpy(),
                             e=1 - labels.loc[inner.case_id, "censorship"].to_numpy())
        maps["inner"] = {}
        for k in refs:
            parts = []
            for j in sorted(inner.loc[inner.fold == k, "inner"].unique()):
                x = inner[(inner.fold == k) & (inner.inner == j)]
                o = x[x.role == "inner_oof"]
                parts.append(ScoredPart(o.risk.to_numpy(), o.t.to_numpy(), o.e.to_numpy(), x[x.role == "inner_ref"].risk.to_numpy()))
            maps["inner"][k] = fit_calibration(parts, refs[k], source="inner cross-fit of the training fold")
    rows = {k: {"fold": k} for k in refs}
    for k in refs:
        v = oof[oof.fold == k]
        tt, te = train[k]
        surv, cuts = step[k]
        t, e = v.survival_months.to_numpy(float), 1 - v.censorship.to_numpy(int)
        rows[k]["ibs_step"] = integrated_brier(tt, te, t, e, surv, cuts, _eval_grid(t, np.asarray(tt, float)))
    pooled, gains, worse = {}, {}, {}
    for name, mp in maps.items():
        o = calibrated_oof(oof, mp)
        tab = brier_vs_null(o, train)
        for k in refs:
            rows[k].update({"n": int(tab.loc[k, "n"]), "events": int(tab.loc[k, "events"]), "c_index": float(tab.loc[k, "c_index"]),
                            "ibs_km": float(tab.loc[k, "ibs_km"]), f"ibs_{name}": float(tab.loc[k, "ibs_model"]),
                            f"beta_{name}": mp[k].fit.beta})
        gains[name] = {str(k): [float(tab.loc[k, c]) for c in GAIN] for k in tab.index}
        worse[name] = brier_record(tab)["folds_worse"]
        pooled[name] = discrimination(o).to_dict()
    per_fold = [rows[k] for k in sorted(rows)]
    keys = [c for c in per_fold[0] if c.startswith(("ibs_", "c_index"))]
    mean = {c: float(np.mean([r[c] for r in per_fold])) for c in keys}
    below = {name: int(sum(r[f"ibs_{name}"] < r["ibs_km"] for r in per_fold)) for name in maps}
    return {"folds": per_fold, "mean": mean, "folds_below_km": below, "pooled_c_index_scale_free": pooled,
            "ibs_gain_vs_km": gains, "ibs_gain_columns": GAIN, "ibs_gain_interval": "paired 95 % bootstrap over each fold's validation patients "
            "(1000 resamples, seed 0; the mean's stratified by fold): survival.quality.brier_vs_null",
            "folds_significantly_worse_than_km": worse}


def _print(res: dict) -> None:
    cols = [c for c in res["folds"][0] if c.startswith(("ibs_", "c_index"))]
    print(pd.DataFrame(res["folds"]).set_index("fold")[cols].round(4).to_string())
    print("mean", {k: round(v, 4) for k, v in res["mean"].items()}, "folds below KM", res["folds_below_km"])
    for name, g in res["ibs_gain_vs_km"].items():
        print(f"IBS gain over KM ({name}; 95 % paired bootstrap):",
              ", ".join(f"{k} {v[0]:+.4f} [{v[1]:+.4f}, {v[2]:+.4f}]" for k, v in g.items()))
    print("folds significantly worse than KM", res["folds_significantly_worse_than_km"])


def run_demo(inner_work: Path | None) -> dict:
    from memamba_core.data import load_cohort
    from memamba_core.demo import ensure_demo
    from memamba_core.train.demo_model import shipped_demo_model
    from memamba_core.runs import read_oof
    from memamba_core.train.scoring import RunModels, reference_risks, run_oof

    cohort = load_cohort(ensure_demo("full"), cache_items=100_000)
    models = RunModels.load(shipped_demo_model("full"))
    oof = run_oof(models, cohort)
    saved = read_oof(models.run)  # the run's own out-of-fold step curves (the "before")
    curves = pd.DataFrame(saved.survival, index=saved.frame["case_id"])
    refs = {k: reference_risks(m, cohort) for k, m in models.folds.items()}
    lab = cohort.clinical_frame()
    train = {k: (lab.loc[list(m.train_case_ids), "survival_months"].to_numpy(), 1 - lab.loc[list(m.train_case_ids), "censorship"].to_numpy())
             for k, m in models.folds.items()}
    step = {k: (curves.loc[oof[oof.fold == k].case_id].to_numpy(), m.cuts)
            for k, m in models.folds.items()}
    inner = None
    if inner_work is not None:
        inner_work.mkdir(parents=True, exist_ok=True)
        demo_inner(cohort, models, inner_work)
        inner = pd.concat([pd.read_csv(inner_work / f"inner_{k}.csv", dtype={"case_id": str}) for k in models.folds])
    return evaluate(oof, refs, train, step, inner, lab)


def run_blca(cohort_dir: Path, work: Path) -> dict:
    from memamba_core.data import load_cohort

    work.mkdir(parents=True, exist_ok=True)
    blca_folds(cohort_dir, work)
    lab = load_cohort(cohort_dir).clinical_frame()
    F = pd.concat([pd.read_csv(work / f"fold_{k}.csv", dtype={"case_id": str}) for k in range(5)], ignore_index=True)
    val = F[F.role == "val"]
    oof = pd.DataFrame({"case_id": val.case_id.to_numpy(), "fold": val.fold.to_numpy(), "risk": val.risk.to_numpy(),
                        "survival_months": lab.loc[val.case_id, "survival_months"].to_numpy(),
                        "censorship": lab.loc[val.case_id, "censorship"].to_numpy()})
    refs, train, step = {}, {}, {}
    for k in range(5):
        r = F[(F.fold == k) & (F.role == "ref")]
        refs[k] = r.risk.to_numpy()
        train[k] = (lab.loc[r.case_id, "survival_months"].to_numpy(), 1 - lab.loc[r.case_id, "censorship"].to_numpy())
        v = val[val.fold == k]
        step[k] = (v[survival_column_names(F.columns)].to_numpy(), json.loads((work / f"cuts_{k}.json").read_text()))
    return evaluate(oof, refs, train, step, F[F.role.isin(["inner_oof", "inner_ref"])], lab)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cohort", required=True)
    d = sub.add_parser("demo", help="the shipped demo checkpoint")
    d.add_argument("--inner-work", type=Path, help="folder for the inner cross-fit (15 demo models; resumable)")
    b = sub.add_parser("blca", help="TCGA-BLCA genomics, nested procedure")
    b.add_argument("--cohort-dir", type=Path, default=Path(os.environ.get("MEMAMBA_BLCA", REPO.parent / "shared" / "data" / "tcga_blca")))
    b.add_argument("--work", type=Path, help="folder for the per-fold fits (resumable; default: a fresh temporary folder)")
    for p in (d, b):
        p.add_argument("--json", type=Path, help="result file (default benchmarks/results/calibration_<cohort>.json)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    if args.cohort == "demo":
        res = run_demo(args.inner_work)
        cmd = "python benchmarks/calibration.py demo" + (" --inner-work DIR" if args.inner_work else "")
    else:
        res = run_blca(args.cohort_dir, args.work or Path(tempfile.mkdtemp(prefix="memamba-calib-")))
        cmd = "python benchmarks/calibration.py blca --work DIR"
    res.update({"benchmark": f"calibration_{args.cohort}", "command": cmd, "seconds": round(time.perf_counter() - t0, 1),
                "cpu_count": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in load0]})
    from memamba_core.paths import atomic_write_text

    out = args.json or REPO / "benchmarks" / "results" / f"calibration_{args.cohort}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(res, indent=1) + "\n")
    _print(res)
    print(f"→ {out}")


if __name__ == "__main__":
    main()
