"""The clinical subcommands: ``calibrate`` (a run's calibration maps), ``predict`` (calibrated survival in clinical terms,
or one fold model's table) and ``report`` (one PDF page per patient)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import InputError
from ..runs import is_run_folder
from .commands import set_threads


def _horizons(args):
    return None if not getattr(args, "horizons", None) else [float(h) for h in args.horizons]


def _cmd_predict(args) -> int:
    from ..data import load_cohort
    from ..outputs import check_output_file, checkpoint_reads, cohort_reads
    from ..runs import write_predictions_csv

    set_threads(args.num_threads)
    run_mode = args.fold is None and is_run_folder(args.checkpoint)
    fold_dir = None
    if not run_mode:
        from ..runs import locate_fold

        fold_dir = locate_fold(args.checkpoint, args.fold).dir  # what is wrong with the checkpoint is said first
    cohort = load_cohort(args.cohort)
    out = check_output_file(args.out, reads=[*cohort_reads(cohort), *checkpoint_reads(args.checkpoint, fold_dir)],
                            example="predictions.csv")
    if run_mode:
        from ..runs import calibration_state
        from ..train.scoring import RunModels, clinical_table

        cal, why = calibration_state(args.checkpoint)
        if cal is not None:
            models = RunModels.load(args.checkpoint)
            df, skipped = clinical_table(models, cohort, cal.maps, horizons=_horizons(args))
            write_predictions_csv(out, df)
            n_oof = int((df["scored_by"] == "out-of-fold").sum())
            print(f"{len(df)} patients of '{cohort.name}' scored by run '{models.name}': {n_oof} out-of-fold (the fold model "
                  f"that did not train on them), {len(df) - n_oof} by the ensemble of the fold models that did not → {out}")
            return _said_skipped(list(skipped), "read or scored")
        print(f"memamba predict: note: {why} Predicting with one fold model instead (raw risks, no calibrated columns).",
              file=sys.stderr)
    from ..train.checkpoint import load_checkpoint
    from ..train.predict import predict_cohort

    loaded = load_checkpoint(args.checkpoint, fold=args.fold)
    df = predict_cohort(loaded, cohort)
    skipped = getattr(df, "attrs", {}).get("skipped") or {}
    df = _fold_clinical_columns(df, loaded, _horizons(args))
    write_predictions_csv(out, df)
    print(f"{len(df)} patients predicted with {loaded.path} → {out}")
    return _said_skipped([f"{case_id}: {why}" for case_id, why in skipped.items()], "read")


def _said_skipped(lines: list[str], what: str) -> int:
    """Print the patients left out (one line each, then what to do) on stderr; the exit status (1 when any)."""
    for line in lines:
        print(f"  skipped {line}", file=sys.stderr)
    if lines:
        print(f"memamba predict: {len(lines)} patient(s) could not be {what} and were left out (listed above); "
              f"fix their files and rerun.", file=sys.stderr)
    return 1 if lines else 0


def _fold_clinical_columns(df, loaded, horizons):
    """One fold model's predictions with its stored calibration's columns (when the run has one), else unchanged."""
    import pandas as pd

    from ..runs import calibration_state
    from ..train.scoring import clinical_row
    from ..survival.clinical_terms import predict_one_model

    run = Path(loaded.path).resolve().parent  # loaded.path: the fold folder, inside its run folder
    cal, why = calibration_state(run)
    if cal is None or loaded.fold not in cal.maps:
        if cal is not None or "no stored calibration" not in why:
            print(f"memamba predict: note: no calibrated columns — {why}", file=sys.stderr)
        return df
    m = cal.maps[loaded.fold]
    rows = []
    for cid, risk, trained in zip(df["case_id"], df["risk"], df["in_training"]):
        pred = predict_one_model(m, float(risk), horizons=horizons, fold=loaded.fold,
                                 scored_by=f"fold {loaded.fold} model" + (" (trained on this patient)" if trained else ""))
        row = clinical_row(pred, "fold model, in training" if trained else "fold model, out-of-sample")
        rows.append({k: v for k, v in row.items() if k not in ("risk", "risk_low", "risk_high")})
    return pd.concat([df.reset_index(drop=True), pd.DataFrame(rows)], axis=1)


def _cmd_calibrate(args) -> int:
    from ..data import load_cohort
    from ..runs import RunPaths, run_kind
    from ..train.scoring import calibrate_and_store, calibrate_nested

    cohort = load_cohort(args.cohort, cache_items=100_000)
    nested = run_kind(args.run) == "nested"
    if nested:  # no weights to score with later: the summary keeps how the calibrated curves score
        maps, summary = calibrate_nested(args.run, cohort)
    else:
        maps = calibrate_and_store(args.run, cohort)
    for k, m in sorted(maps.items()):
        print(f"fold {k}: slope β {m.fit.beta:.3f} on {m.sample_z.size} training patients scored out-of-fold "
              f"({int(m.sample_events.sum())} events); horizons up to {m.horizon_limit:.1f} months")
    paths = RunPaths(args.run)
    written = [paths.calibration, paths.calibrated_oof]
    if nested:
        mean = summary["calibrated"]["mean"]
        if mean.get("ibs_model") is None or mean.get("ibs_gain_low") is None:
            print("calibrated IBS: undefined on these folds (too few events inside their follow-up)")
        else:
            print(f"calibrated IBS {mean['ibs_model']:.3f} against the Kaplan–Meier null's {mean['ibs_km']:.3f} "
                  f"(gain 95 % CI {mean['ibs_gain_low']:+.3f} to {mean['ibs_gain_high']:+.3f}: {mean['vs_km']})")
        written.append(paths.summary)
    print("written: " + ", ".join(map(str, written)))
    return 0


def _cmd_report(args) -> int:
    from ..data import load_cohort
    from ..report import write_cohort_report
    from ..runs import read_calibration
    from ..train.scoring import RunModels

    cohort = load_cohort(args.cohort, cache_items=100_000)
    from ..outputs import check_output_file, checkpoint_reads, cohort_reads

    out = check_output_file(args.out, reads=[*cohort_reads(cohort), *checkpoint_reads(args.run)], example="report.pdf")
    cal = read_calibration(args.run)
    if cal is None:
        raise InputError(f"run '{Path(args.run).name}' has no stored calibration; run `memamba calibrate {args.run} {args.cohort}` first.")
    models = RunModels.load(args.run)
    ids = args.patient or None
    if ids:
        unknown = [c for c in ids if c not in set(cohort.case_ids())]
        if unknown:
            raise InputError(f"patient(s) {', '.join(unknown)} are not in cohort '{cohort.name}'; give case ids of its labels table.")
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(ids or cohort.case_ids()), desc="report", unit="patient", file=sys.stderr)

    def progress(i, n, cid):
        if bar is not None:
            bar.update(1)

    set_threads(args.num_threads)
    horizons = _horizons(args)
    if horizons is None:
        from ..survival.clinical_terms import automatic_horizons

        horizons = automatic_horizons(min(m.horizon_limit for m in cal.maps.values()))
    try:
        path, skipped = write_cohort_report(models, cohort, cal.maps, out, case_ids=ids, horizons=horizons, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    for line in skipped:
        print(f"  left out {line}", file=sys.stderr)
    print(f"report: {path} ({len(ids or cohort.case_ids()) - len(skipped)} page(s))")
    return 0 if not skipped or ids is None else 1
