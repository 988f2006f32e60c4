"""The ``memamba`` subcommands other than the clinical ones (:mod:`.clinical`): each ``_cmd_<name>(args) -> status``."""

from __future__ import annotations

import dataclasses
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError

if TYPE_CHECKING:
    from ..train.config import TrainConfig


def set_threads(n: int | None) -> None:
    """``--num-threads N``: cap torch's CPU threads (0 or None: torch's default)."""
    if n:
        import torch

        torch.set_num_threads(n)


def _parse_value(field: dataclasses.Field, text: str, name: str):
    default = field.default if field.default is not dataclasses.MISSING else None
    try:
        if isinstance(default, bool):
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, tuple):
            return tuple(int(x) for x in text.split(",") if x.strip())
        return text
    except ValueError:
        raise InputError(f"--set {name}={text}: not a valid {type(default).__name__} value for {name}.") from None


def _train_config(args) -> "TrainConfig":
    from ..models import ModelConfig
    from ..train.config import TrainConfig

    cfg = TrainConfig.from_json(args.config) if args.config else TrainConfig()
    flags = {
        "optimizer": args.optimizer, "lr": args.lr, "weight_decay": args.weight_decay, "epochs": args.epochs,
        "grad_accum": args.grad_accum, "alpha_surv": args.alpha_surv, "l1_genomic": args.l1_genomic,
        "modality_dropout": args.modality_dropout, "expert_aux_weight": args.expert_aux_weight,
        "expert_warmup_epochs": args.expert_warmup_epochs, "seed": args.seed, "selection": args.selection,
        "max_train_patches": args.max_train_patches, "n_bins": args.n_bins, "num_threads": args.num_threads,
        "folds": args.folds, "n_folds": args.n_folds, "eval_every": args.eval_every,
    }
    model = {"model": args.model_name, "modalities": args.modalities, "d_model": args.d_model}
    fields = {f.name: f for f in dataclasses.fields(ModelConfig)}
    for item in args.model_set:
        name, sep, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in fields:
            raise InputError(f"--set {item}: expected FIELD=VALUE with FIELD one of {', '.join(fields)}.")
        model[name] = _parse_value(fields[name], value.strip(), name)
    model = {k: v for k, v in model.items() if v is not None}
    try:
        mcfg = dataclasses.replace(cfg.model, **model)
    except (TypeError, ValueError) as err:
        raise InputError(f"model settings: {err}.") from err
    return cfg.replace(model=mcfg, **{k: v for k, v in flags.items() if v is not None})


# ---------------------------------------------------------------- commands


def _cmd_demo(args) -> int:
    from ..demo import ensure_demo

    path = ensure_demo(args.profile)
    print(f"demo cohort: {path}")
    if args.model:
        from ..train.demo_model import ensure_demo_model

        run = ensure_demo_model(args.profile, progress=not args.no_progress, retrain=args.retrain)
        print(f"demo model: {run}")
    if args.check:
        from ..data import load_cohort
        from ..paths import cache_dir
        from ..runs import RunPaths
        from ..train.demo_check import demo_acceptance
        from ..train.demo_model import demo_train_config

        out = args.check_out or cache_dir() / f"demo-{args.profile}-acceptance"
        res = demo_acceptance(load_cohort(path, cache_items=100_000), demo_train_config(args.profile), out,
                              progress=not args.no_progress)
        print(json.dumps({k: res[k] for k in ("c_index_mean", "full_beats_both", "attention_auroc")}, indent=2))
        print(f"written: {RunPaths(out).acceptance}")
    return 0


def _cmd_extract(args) -> int:
    from ..dist import init_distributed, shutdown_distributed
    from ..features import extract_folder, load_encoder

    d = init_distributed()  # under torchrun: the slides are sharded over the ranks, one GPU per rank where there are GPUs
    bar = None
    if not args.no_progress and d.is_main:
        from tqdm import tqdm

        bar = tqdm(total=100, desc="extract", unit="%", file=sys.stderr)

    def progress(fraction: float, message: str) -> None:
        if bar is not None:
            bar.n = round(100 * fraction, 1)
            bar.set_postfix_str(message[-40:])
            bar.refresh()

    try:
        encoder = load_encoder(args.encoder, args.weights, device=str(d.device))
        report = extract_folder(args.slides, args.out, encoder, batch_size=args.batch_size, progress=progress,
                                overwrite=args.overwrite, dist=d)
    finally:
        if bar is not None:
            bar.close()
        shutdown_distributed(d)
    if d.is_main:
        print(f"{len(report.done)} slide(s) extracted, {len(report.skipped)} already done, {len(report.failed)} failed → {args.out}")
        if d.active:
            for r in report.ranks:
                print(f"  rank {r['rank']}: {r['items']} slide(s), {r['done']} extracted, {r['failed']} failed, "
                      f"{r['units']} patches in {r['seconds']:.1f} s")
        for sid, why in report.failed.items():
            print(f"  failed {sid}: {why}", file=sys.stderr)
    return 0 if not report.failed else 1


def _cmd_train(args) -> int:
    from ..data import load_cohort
    from ..train.cv import train_cv
    from ..train.distributed import init_distributed, shutdown_distributed

    cfg = _train_config(args)
    cohort = load_cohort(args.cohort, cache_items=100_000)
    d = init_distributed()
    try:
        summary = train_cv(cohort, cfg, args.out, force=args.force, dist=d, progress=not args.no_progress,
                           parallel=args.parallel)
    finally:
        shutdown_distributed(d)
    if d.is_main:
        _print_summary(summary, Path(args.out))
    return 0


def _cmd_benchmark(args) -> int:
    from ..dist import init_distributed, shutdown_distributed
    from ..train.leaderboard import Protocol, parse_cohort_arg, run_benchmark

    specs = [parse_cohort_arg(c, args.endpoints) for c in args.cohorts]
    protocol = Protocol(epochs=args.epochs, ensemble=args.ensemble, n_inner=args.n_inner, d_model=args.d_model,
                        n_boot=args.n_boot, threads=args.num_threads, folds=args.folds, n_folds=args.n_folds,
                        split_seed=args.seed, clinical_variables=tuple(args.clinical) if args.clinical else None)
    command = "memamba " + " ".join(shlex.quote(a) for a in (args.argv or []))
    d = init_distributed()
    try:
        record = run_benchmark(specs, args.models, args.out, protocol, dist=d, force=args.force, command=command,
                               progress=None if args.no_progress else _benchmark_progress)
    finally:
        shutdown_distributed(d)
    if not d.is_main:
        return 0
    if not args.no_progress:
        print(file=sys.stderr)
    for r in record["rows"]:
        if r.get("n_folds"):
            print(f"{r['cohort']} {r['endpoint'].upper():4s} {r['model']:18s} C-index {r['mean_c_index']:.4f} "
                  f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}] over {r['n_folds']} folds")
    for g in record["gaps"]:
        print(f"{g['cohort']} {g['endpoint'].upper():4s} {g['model']} − {g['versus']}: {g['gap']:+.4f} "
              f"[{_fmt(g['ci_low'])}, {_fmt(g['ci_high'])}]")
    for key, why in record["failed"].items():
        print(f"  failed {key}: {why}", file=sys.stderr)
    print(f"{record['seconds']:.0f} s with {record['processes']} process(es); leaderboard in {args.out}")
    return 0 if not record["failed"] else 1


def _benchmark_progress(p) -> None:
    print(f"\r{100 * p.fraction:3.0f}% of {p.total} cells  {p.message or ''}"[:120].ljust(120), end="", file=sys.stderr, flush=True)


def _print_summary(summary: dict, out: Path) -> None:
    for f in summary.get("folds", []):
        print(f"fold {f['fold']}: C-index {_fmt(f.get('c_index'))}  IPCW {_fmt(f.get('ipcw_c_index'))}  "
              f"IBS {_fmt(f.get('integrated_brier'))}  AUC {_fmt(f.get('mean_auc'))}  (n={f.get('n')}, events={f.get('n_events')})")
    mean, std = summary.get("mean", {}), summary.get("std", {})
    print(f"mean C-index {_fmt(mean.get('c_index'))} ± {_fmt(std.get('c_index'))} over {summary.get('n_folds_finished')} folds")
    print(f"run folder: {out}")


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def _cmd_evaluate(args) -> int:
    from ..paths import atomic_write_text
    from ..train.evaluate import evaluate_run

    if args.json:  # the run folder is an input: it is never modified
        from ..outputs import check_output_file

        check_output_file(args.json, reads=[args.run], what="--json", example="evaluation.json")
    res = evaluate_run(args.run, n_boot=args.n_boot, seed=args.seed, level=args.level)
    for f in res["folds"]:
        ci = f.get("c_index_ci")
        ci_txt = f"[{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "n/a"
        print(f"fold {f['fold']}: C-index {_fmt(f.get('c_index'))} {ci_txt}  IPCW {_fmt(f.get('ipcw_c_index'))}  "
              f"IBS {_fmt(f.get('integrated_brier'))}  AUC {_fmt(f.get('mean_auc'))}")
    p = res.get("pooled_c_index") or {}
    print(f"mean C-index {_fmt(res['mean'].get('c_index'))} ± {_fmt(res['std'].get('c_index'))}")
    if "value" in p:
        print(f"pooled out-of-fold C-index {p['value']:.4f} [{p['low']:.4f}, {p['high']:.4f}] ({int(p['level'] * 100)}% bootstrap, n_boot={p['n_boot']})")
    if args.json:
        atomic_write_text(args.json, json.dumps(res, indent=2, sort_keys=True, default=str))
        print(f"written: {args.json}")
    return 0


def _cmd_ablate(args) -> int:
    from ..data import load_cohort
    from ..runs import RunPaths
    from ..train.ablate import run_ablations
    from ..train.distributed import init_distributed, shutdown_distributed

    cfg = _train_config(args)
    cohort = load_cohort(args.cohort, cache_items=100_000)
    d = init_distributed()
    try:
        table = run_ablations(cohort, cfg, args.out, variants=args.variants, force=args.force, dist=d,
                              progress=not args.no_progress, parallel=args.parallel)
    finally:
        shutdown_distributed(d)
    if d.is_main:
        print(table.to_string(index=False, columns=[c for c in ("variant", "c_index_mean", "c_index_std") if c in table]))
        print(f"table: {RunPaths(args.out).ablations}")
    return 0


def _cmd_export_qupath(args) -> int:
    from ..data import load_cohort
    from ..qupath import export_cohort_qupath
    from ..train.checkpoint import load_checkpoint

    if args.k < 1:
        raise InputError(f"--k {args.k}: the number of top patches must be at least 1.")
    set_threads(args.num_threads)
    loaded = load_checkpoint(args.run, fold=args.fold)
    cohort = load_cohort(args.cohort)

    live = not args.no_progress and sys.stderr.isatty()

    def progress(done: int, total: int, case: str) -> None:
        if live:
            print(f"\r{done}/{total} patients ({case})", end="", file=sys.stderr, flush=True)

    res = export_cohort_qupath(loaded, cohort, args.out, k=args.k, colour_key=f"pathology/{args.branch.strip()}",
                               progress=progress)
    if live:
        print(file=sys.stderr)
    for note in res.skipped:
        print(f"left out: {note}", file=sys.stderr)
    print(f"{len(res.files)} slides exported as QuPath GeoJSON with {loaded.path} → {res.out} "
          f"({res.seconds:.1f} s; {len(res.skipped)} left out)")
    return 1 if not res.files and res.skipped else 0


def _cmd_bench(args) -> int:
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_train.py"
    if args.quick or not script.is_file():
        from ..train.bench import quick_timing

        print(json.dumps(quick_timing(), indent=2))
        return 0
    cmd = [sys.executable, str(script)] + (["--profile", args.profile] if args.profile else [])
    return subprocess.call(cmd)


def _cmd_doctor(args) -> int:
    from ..doctor import DoctorSizes, format_report, run_doctor

    base = DoctorSizes.quick() if args.quick else DoctorSizes()
    sizes = dataclasses.replace(base, **{k: v for k, v in (("scan_length", args.scan_length), ("infer_patches", args.infer_patches),
                                                            ("train_patches", args.train_patches), ("repeats", args.repeats)) if v is not None})
    report = run_doctor(sizes, devices=args.device, speed=not args.no_speed)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


# ---------------------------------------------------------------- parser
