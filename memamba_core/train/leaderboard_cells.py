"""One leaderboard cell: its run folder record, its folds (neural fixed recipe or inner-CV Cox), its summary.

See :mod:`memamba_core.train.leaderboard` for the protocol; a cell's run folder is a
:mod:`memamba_core.runs` folder of kind ``"nested"`` (per fold the prediction table and the
:class:`~memamba_core.runs.Selection` record, written last), so a rerun skips finished folds.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from ..data import Cohort
from ..data.clinical_tokens import clinical_encoding, clinical_matrix, with_clinical_tokens
from ..data.splits import Split
from ..dist import Dist
from ..runs import RunFolder, Selection, finished_folds, prediction_frame
from ..survival.discrete import bin_edges
from .cv import prepare_fold, resolve_model_config
from .evaluate import fold_metrics
from .leaderboard import NEURAL, Cell, Protocol, cell_dir
from .loop import _c_index
from .nested import fit_ensemble
from .scoring import calibrate_finished

__all__ = ["run_cell", "cell_complete"]


def _cell_record(cell: Cell, protocol: Protocol) -> dict:
    if cell.model in NEURAL:
        grid = {"fixed recipe": protocol.train_config(cell.model).to_dict()}
    else:
        grid = {"inner cv": {"l1_ratios": list(protocol.l1_ratios), "n_alphas": protocol.n_alphas, "n_inner": protocol.n_inner,
                             "reads": "clinical variables" if cell.model == "clinical_cox" else "genomic columns"}}
    return {
        "procedure": "nested", "benchmark_model": cell.model, "endpoint": cell.endpoint, "grid": grid,
        "protocol": protocol.to_dict(),
        "cohort": {"name": cell.cohort_name, "n_patients": sum(len(f.val) for f in cell.folds), "excluded": []},
        "features": _features(cell.cohort),
        "fold_source": cell.fold_source, "folds": [{"train": list(f.train), "val": list(f.val)} for f in cell.folds],
    }


def _features(cohort: Cohort) -> dict:
    """What the genomic inputs are (a cell folder made from other gene groups is not resumed)."""
    g = cohort.groups
    blob = json.dumps(g.to_dict(), sort_keys=True).encode()
    return {"gene_groups": len(g.names), "genomic_columns": len(g.all_columns), "groups_sha256": hashlib.sha256(blob).hexdigest()[:16]}


# A fold fit: (validation ids, risk (P,), survival (P, K), cuts, chosen, inner scores, member C-indices, extra,
# the risks of the fold's own training patients (n_train,) — the scale of the calibration's scale-free score).


def _neural_fold(cell: Cell, protocol: Protocol, cohort: Cohort, split: Split, k: int) -> tuple:
    cfg = protocol.train_config(cell.model)
    data = prepare_fold(cohort, cfg, resolve_model_config(cohort, cfg), split.train, split.val)
    risk, surv, members, train_risk = fit_ensemble(cohort, cfg, data, k, protocol.ensemble, Dist(), reference=True)  # a cell trains alone on its rank
    times, cens = [e.time for e in data.val], [e.censorship for e in data.val]
    return ([e.case_id for e in data.val], risk, surv, data.cuts, "fixed recipe", {"fixed recipe": {"mean": None, "inner": []}},
            [_c_index(times, cens, r) for r in members], {}, train_risk)


def _cox_fold(cell: Cell, protocol: Protocol, cohort: Cohort, split: Split, k: int) -> tuple:
    from ..models.coxnet import ElasticNetCox

    tr, va = list(split.train), list(split.val)
    if cell.model == "clinical_cox":
        enc = clinical_encoding(cohort, protocol.clinical_variables)
        X, Xv = clinical_matrix(cohort, tr, encoding=enc)[0], clinical_matrix(cohort, va, encoding=enc)[0]
    else:
        X, Xv = cohort.genomic_matrix(tr), cohort.genomic_matrix(va)
    t = np.array([cohort.patient(c).survival_months for c in tr])
    cens = np.array([cohort.patient(c).censorship for c in tr])
    m = ElasticNetCox(l1_ratios=protocol.l1_ratios, n_alphas=protocol.n_alphas, n_inner=protocol.n_inner,
                      seed=protocol.split_seed).fit(X, t, 1 - cens)
    cuts = bin_edges(t, cens, protocol.n_bins)
    risk = m.predict_risk(Xv)
    surv = m.predict_survival(Xv, np.append(cuts, t.max()))  # S at the K−1 cut-points, then the last training time
    return va, risk, surv, cuts, m.chosen_, m.inner_scores_, [], {"n_nonzero": m.n_nonzero_}, m.predict_risk(X)


def run_cell(cell: Cell, protocol: Protocol, out: Path, tick=None) -> dict:
    """Cross-validate one cell into its run folder (finished folds skipped); returns its summary."""
    cohort = cell.cohort
    if cell.model == "memamba_clinical":
        cohort = with_clinical_tokens(cohort, "tokens", protocol.clinical_variables)
    run = RunFolder(cell_dir(out, cell.key), kind="nested")
    done = run.start(_cell_record(cell, protocol))
    try:
        fit = _neural_fold if cell.model in NEURAL else _cox_fold
        for k, split in enumerate(cell.folds):
            if k in done:
                continue
            if tick is not None:
                tick(k / len(cell.folds), f"{cell.key} fold {k}")
            t0 = time.perf_counter()
            ids, risk, surv, cuts, chosen, scores, members, extra, train_risk = fit(cell, protocol, cohort, split, k)
            pts = [cohort.patient(c) for c in ids]
            times, cens = [p.survival_months for p in pts], [p.censorship for p in pts]
            tr = [cohort.patient(c) for c in split.train]
            metrics = fold_metrics([p.survival_months for p in tr], [p.censorship for p in tr], times, cens, risk, surv, cuts)
            run.write_fold_predictions(k, prediction_frame(ids, risk, surv, fold=k, survival_months=times, censorship=cens))
            run.write_selection(k, Selection(
                fold=k, chosen=chosen, inner_scores=scores, metrics=metrics, member_c_index=members,
                cuts=tuple(float(c) for c in cuts), n_train=len(split.train), n_val=len(ids), val_case_ids=tuple(ids),
                seconds=time.perf_counter() - t0, reference_risk=tuple(float(x) for x in train_risk), extra=extra))
            run.log(event="fold_end", fold=k, chosen=chosen, c_index=metrics.get("c_index"), seconds=time.perf_counter() - t0)
        summary = run.rebuild(_cell_summary(cell))
        if len(run.finished_folds()) == len(cell.folds):
            summary = calibrate_finished(run, summary, lambda rec: run.log(**rec), cohort)
        return summary
    finally:
        run.release()


def _cell_summary(cell: Cell):
    def summary(selections: list[Selection], oof) -> dict:
        c = [s.metrics.get("c_index") for s in selections if s.metrics.get("c_index") is not None]
        return {"procedure": "nested", "benchmark_model": cell.model, "endpoint": cell.endpoint, "n_folds": len(cell.folds),
                "n_folds_finished": len(selections), "complete": len(selections) == len(cell.folds),
                "folds": [{"fold": s.fold, "chosen": s.chosen, **{k: v for k, v in s.metrics.items() if k != "notes"},
                           "seconds": s.seconds} for s in selections],
                "mean_c_index": float(np.mean(c)) if c else None,
                "std_c_index": float(np.std(c, ddof=1)) if len(c) > 1 else None}

    return summary


def cell_complete(cell: Cell, out: Path) -> bool:
    path = cell_dir(out, cell.key)
    return path.is_dir() and len(finished_folds(path, "nested")) == len(cell.folds)
