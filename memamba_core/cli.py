"""The ``memamba`` command: demo cohort, feature extraction, training, evaluation, prediction, ablations, benchmarks, doctor.

Every subcommand's ``--help`` describes its inputs, outputs and an example.
Bad input (an :class:`~memamba_core.errors.InputError`) prints its message and
exits with status 2 — never a traceback. Ctrl-C exits 130; rerunning the same
``train`` / ``ablate`` command resumes where it stopped.

Multi-process training uses torchrun (PyTorch's launcher) with the same arguments::

    torchrun --nproc_per_node 2 -m memamba_core.cli train COHORT --out runs/x
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from .errors import InputError
from .runs import file_names

__all__ = ["main", "build_parser"]

_EPILOG_TRAIN = """\
inputs:  COHORT — a cohort folder in the MCAT/CLAM layout or a cohort.toml (see docs/data.md).
outputs: the run folder --out: {config}, fold_<k>/{weights} + {meta} + {predictions},
         {oof}, {summary} (per-fold and mean/std metrics), {progress} (live log).
resume:  rerun the same command on the same --out: finished folds are skipped, never rewritten.
         A folder made with other settings is refused (use a new --out, or --force to move old results aside).
honesty: the reported score never selects on the fold it reports (--selection last, or inner_val: best
         epoch on an inner split of the training fold).

examples:
  memamba train ~/.cache/memamba/demo-full --out runs/demo
  memamba train /data/tcga_blca --out runs/blca_gen --modalities genomics --epochs 30 --lr 5e-4
  memamba train /data/tcga_blca --out runs/blca_snn --model snn --config my_train.json
  torchrun --nproc_per_node 2 -m memamba_core.cli train /data/demo --out runs/ddp
"""


def _choice_help(field: str) -> str:
    """``a: what a; b: what b`` for a registry choice field (models: their one-line descriptions)."""
    from .models import choices, describe_choice

    return "; ".join(f"{v}: {describe_choice(field, v)}" for v in choices(field))


def _add_train_options(p: argparse.ArgumentParser) -> None:
    from .models import choices
    from .train.config import TrainConfig

    d = TrainConfig.__dataclass_fields__
    g = p.add_argument_group("training (defaults from TrainConfig; --config JSON sets many at once)")
    g.add_argument("--config", type=Path, help=f"JSON file of TrainConfig fields (a run folder's {file_names()['config']} works too); flags override it")
    g.add_argument("--optimizer", choices=choices("optimizer"), help=f"optimiser — {_choice_help('optimizer')} (default {d['optimizer'].default})")
    g.add_argument("--lr", type=float, help=f"learning rate (default {d['lr'].default})")
    g.add_argument("--weight-decay", type=float, help=f"weight decay (default {d['weight_decay'].default})")
    g.add_argument("--epochs", type=int, help=f"epochs per fold (default {d['epochs'].default})")
    g.add_argument("--grad-accum", type=int, help=f"patients per optimiser step (default {d['grad_accum'].default})")
    g.add_argument("--alpha-surv", type=float, help="up-weighting of the uncensored NLL term, in [0, 1] (default 0)")
    g.add_argument("--modality-dropout", type=float, help="bimodal models: per training pass, drop the slide with this probability, else the genomics with the same (0–0.5; default 0 = off)")
    g.add_argument("--expert-aux-weight", type=float, help="ME-Mamba: add this weight × the mean NLL of each expert's own prediction (default 0 = off)")
    g.add_argument("--expert-warmup-epochs", type=int, metavar="E", help="ME-Mamba: the first E epochs train each expert on its own prediction only, then the fused one (default 0 = off)")
    g.add_argument("--l1-genomic", type=float, help="proximal L1 strength on the genomic input weights, soft-threshold lr·λ per step (default 0 = off)")
    g.add_argument("--seed", type=int, help="seed for init, order, dropout, patch subsampling and generated folds (default 0)")
    g.add_argument("--selection", choices=choices("selection"), help=f"model selection — {_choice_help('selection')} (default {d['selection'].default})")
    g.add_argument("--max-train-patches", type=int, help=f"random patch subsample per bag when training, 0 = all (default {d['max_train_patches'].default})")
    g.add_argument("--n-bins", type=int, help="K time bins (default 4)")
    g.add_argument("--num-threads", type=int, help="torch CPU threads, 0 = torch default")
    g.add_argument("--folds", choices=choices("folds"), help=f"folds — {_choice_help('folds')} (default {d['folds'].default})")
    g.add_argument("--n-folds", type=int, help="number of generated folds (default 5)")
    g.add_argument("--eval-every", type=int, help="log the validation C-index every N epochs (0 = at the end only)")
    m = p.add_argument_group("model (any ModelConfig field via --set FIELD=VALUE)")
    m.add_argument("--model", dest="model_name", choices=choices("model"), help=f"architecture — {_choice_help('model')} (default memamba)")
    m.add_argument("--modalities", choices=choices("modalities"), help=f"inputs of a model that reads both — {_choice_help('modalities')} (default both)")
    m.add_argument("--d-model", type=int, help="model width d (default 256)")
    m.add_argument("--set", dest="model_set", action="append", default=[], metavar="FIELD=VALUE",
                   help="set a ModelConfig field, e.g. --set ot=sinkhorn --set n_layers=1 (repeatable)")
    o = p.add_argument_group("run")
    o.add_argument("--out", type=Path, required=True, help="run folder to create or resume")
    o.add_argument("--force", action="store_true", help="if --out was made with other settings, move its results to replaced-<time>/ and start afresh")
    o.add_argument("--no-progress", action="store_true", help=f"no progress bar (the progress log {file_names()['progress']} is written anyway)")


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
    from .models import ModelConfig
    from .train.config import TrainConfig

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
    from .demo import ensure_demo

    path = ensure_demo(args.profile)
    print(f"demo cohort: {path}")
    if args.model:
        from .train.demo_model import ensure_demo_model

        run = ensure_demo_model(args.profile, progress=not args.no_progress, retrain=args.retrain)
        print(f"demo model: {run}")
    if args.check:
        from .data import load_cohort
        from .paths import cache_dir
        from .runs import RunPaths
        from .train.demo_check import demo_acceptance
        from .train.demo_model import demo_train_config

        out = args.check_out or cache_dir() / f"demo-{args.profile}-acceptance"
        res = demo_acceptance(load_cohort(path, cache_items=100_000), demo_train_config(args.profile), out,
                              progress=not args.no_progress)
        print(json.dumps({k: res[k] for k in ("c_index_mean", "full_beats_both", "attention_auroc")}, indent=2))
        print(f"written: {RunPaths(out).acceptance}")
    return 0


def _cmd_extract(args) -> int:
    from .dist import init_distributed, shutdown_distributed
    from .features import extract_folder, load_encoder

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
    from .data import load_cohort
    from .train.cv import train_cv
    from .train.distributed import init_distributed, shutdown_distributed

    cfg = _train_config(args)
    cohort = load_cohort(args.cohort, cache_items=100_000)
    d = init_distributed()
    try:
        summary = train_cv(cohort, cfg, args.out, force=args.force, dist=d, progress=not args.no_progress)
    finally:
        shutdown_distributed(d)
    if d.is_main:
        _print_summary(summary, Path(args.out))
    return 0


def _cmd_benchmark(args) -> int:
    from .dist import init_distributed, shutdown_distributed
    from .train.leaderboard import Protocol, parse_cohort_arg, run_benchmark

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
    from .paths import atomic_write_text
    from .train.evaluate import evaluate_run

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


def _cmd_predict(args) -> int:
    from .data import load_cohort
    from .runs import write_predictions_csv
    from .train.checkpoint import load_checkpoint
    from .train.predict import predict_cohort

    if args.num_threads:
        import torch

        torch.set_num_threads(args.num_threads)
    loaded = load_checkpoint(args.checkpoint, fold=args.fold)
    df = predict_cohort(loaded, load_cohort(args.cohort))
    write_predictions_csv(args.out, df)
    print(f"{len(df)} patients predicted with {loaded.path} → {args.out}")
    return 0


def _cmd_ablate(args) -> int:
    from .data import load_cohort
    from .runs import RunPaths
    from .train.ablate import run_ablations
    from .train.distributed import init_distributed, shutdown_distributed

    cfg = _train_config(args)
    cohort = load_cohort(args.cohort, cache_items=100_000)
    d = init_distributed()
    try:
        table = run_ablations(cohort, cfg, args.out, variants=args.variants, force=args.force, dist=d, progress=not args.no_progress)
    finally:
        shutdown_distributed(d)
    if d.is_main:
        print(table.to_string(index=False, columns=[c for c in ("variant", "c_index_mean", "c_index_std") if c in table]))
        print(f"table: {RunPaths(args.out).ablations}")
    return 0


def _cmd_bench(args) -> int:
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_train.py"
    if args.quick or not script.is_file():
        from .train.bench import quick_timing

        print(json.dumps(quick_timing(), indent=2))
        return 0
    cmd = [sys.executable, str(script)] + (["--profile", args.profile] if args.profile else [])
    return subprocess.call(cmd)


def _cmd_doctor(args) -> int:
    from .doctor import DoctorSizes, format_report, run_doctor

    base = DoctorSizes.quick() if args.quick else DoctorSizes()
    sizes = dataclasses.replace(base, **{k: v for k, v in (("scan_length", args.scan_length), ("infer_patches", args.infer_patches),
                                                            ("train_patches", args.train_patches), ("repeats", args.repeats)) if v is not None})
    report = run_doctor(sizes, devices=args.device, speed=not args.no_speed)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    from .models import choices

    raw = argparse.RawDescriptionHelpFormatter
    files = file_names()
    top = argparse.ArgumentParser(
        prog="memamba",
        description="ME-Mamba multimodal survival analysis (whole-slide images + genomics): "
        "build the demo cohort, extract patch features, cross-validate, evaluate, predict, ablate, benchmark.",
        epilog="Run `memamba <command> --help` for a command's inputs, outputs and examples.",
        formatter_class=raw,
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="build the demo cohort (and optionally its trained model) into the cache", formatter_class=raw,
                       description="Generate the deterministic demo cohort (pyramidal TIFF slides, features, genomics, survival, "
                       "ground truth) into $MEMAMBA_CACHE or ~/.cache/memamba, once; later calls reuse it.",
                       epilog="outputs: prints the cohort folder (and with --model the trained demo run folder; with --check\n"
                       f"         the acceptance numbers, also written to {files['acceptance']} in --check-out).\n\n"
                       "examples:\n  memamba demo\n  memamba demo --profile tiny\n  memamba demo --model\n  memamba demo --model --retrain\n  memamba demo --check")
    p.add_argument("--profile", default="full", help="demo size: full (default) or tiny (for tests)")
    p.add_argument("--model", action="store_true", help="also train (or reuse) the demo ME-Mamba checkpoint the dashboard loads")
    p.add_argument("--retrain", action="store_true", help="with --model: train the demo checkpoint anew instead of "
                   "reusing the cached or shipped one (assets/demo-model-<profile>)")
    p.add_argument("--check", action="store_true", help="run the demo acceptance: full vs pathology-only vs genomics-only "
                   "C-index under the same 5-fold CV, and the attention AUROC against the saved truth")
    p.add_argument("--check-out", type=Path, help="folder for --check (default: the cache's demo-<profile>-acceptance)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("extract", help="patch features for a folder of slides (CLAM pt_files/ + h5_files/)", formatter_class=raw,
                       description="Tile every slide of a folder (tissue only), encode the patches and write CLAM-layout "
                       "features: OUT/pt_files/<slide>.pt (N x D tensor) and OUT/h5_files/<slide>.h5 (features, coords). "
                       "Slides already extracted with the same encoder are skipped, so an interrupted run resumes. "
                       "Exit status 1 when some slide failed (each is listed). Under torchrun the slides are shared out "
                       "over the ranks (each written by exactly one); OUT must be a folder every rank sees.",
                       epilog="examples:\n  memamba extract /data/slides --out /data/cohort\n"
                       "  torchrun --nproc_per_node 2 -m memamba_core.cli extract /data/slides --out /data/cohort\n"
                       "  memamba extract /data/slides --out /data/cohort --encoder resnet50_trunc --weights resnet50.safetensors")
    p.add_argument("slides", type=Path, help="folder of whole-slide images (.svs, .tif, .ndpi, …)")
    p.add_argument("--out", type=Path, required=True, help="cohort folder to write pt_files/ and h5_files/ into")
    p.add_argument("--encoder", default="builtin", help="builtin (light, fixed weights, D = 256) or an architecture "
                   "(resnet50_trunc, a ViT preset) used with --weights")
    p.add_argument("--weights", type=Path, help="local weights file for --encoder (nothing is downloaded)")
    p.add_argument("--batch-size", type=int, default=64, help="patches per encoder batch (default 64)")
    p.add_argument("--overwrite", action="store_true", help="re-extract slides already done (default: skip them)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_extract)

    p = sub.add_parser("train", help="cross-validate a model on a cohort into a run folder (resumable)", formatter_class=raw,
                       description="Train and cross-validate one model config on a cohort: per fold, fit the genomic scaler "
                       "and time bins on the training patients, train, predict the held-out patients.", epilog=_EPILOG_TRAIN.format(**files))
    p.add_argument("cohort", type=Path, help="cohort folder or cohort.toml")
    _add_train_options(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="metrics with bootstrap CIs of a run folder's out-of-fold predictions", formatter_class=raw,
                       description="Recompute Harrell's and IPCW C-index, integrated Brier score and time-dependent AUC per fold, "
                       "mean ± std over folds, and the pooled out-of-fold C-index with a seeded bootstrap interval.",
                       epilog=f"inputs:  RUN — a run folder of `memamba train` (reads {files['oof']}, fold_<k>/{files['meta']}).\n"
                       "outputs: a table on stdout; with --json the full result as JSON. The run folder is not modified.\n\n"
                       "examples:\n  memamba evaluate runs/demo\n  memamba evaluate runs/demo --n-boot 2000 --json runs/demo_eval.json")
    p.add_argument("run", type=Path, help="run folder")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--json", type=Path, help="also write the result to this JSON file")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("predict", help="apply a checkpoint to a cohort → CSV of risks and survival curves", formatter_class=raw,
                       description="Predict every patient of COHORT with a trained checkpoint (a fold folder, or a run folder "
                       "with --fold). The cohort must have the checkpoint's feature width and gene groups.",
                       epilog="outputs: CSV with case_id, risk (higher = earlier event), S_1..S_K (survival past each bin), "
                       "survival_months, censorship, event, in_training.\n\n"
                       "examples:\n  memamba predict runs/demo/fold_0 ~/.cache/memamba/demo-full --out preds.csv\n"
                       "  memamba predict runs/demo /data/other_cohort --fold 2 --out preds.csv")
    p.add_argument("checkpoint", type=Path, help=f"fold folder (fold_<k>/), run folder, or a fold's {files['weights']}")
    p.add_argument("cohort", type=Path, help="cohort folder or cohort.toml")
    p.add_argument("--out", type=Path, required=True, help="CSV file to write")
    p.add_argument("--fold", type=int, help="fold of a run folder (default: its first finished fold)")
    p.add_argument("--num-threads", type=int, default=0, help="torch CPU threads (0 = torch's default; 1 is fastest on a "
                   "busy machine, where extra threads wait for one another)")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("ablate", help=f"the ablation grid of the model config under the same CV → {files['ablations']}", formatter_class=raw,
                       description="Cross-validate the full model and each variant with one switch off (each scan branch, optimal "
                       "transport, Sinkhorn instead of hard OT, MMD, interleaving) and each modality alone, with the same folds "
                       "and training settings. Each variant is a resumable run in OUT/<variant>/.",
                       epilog=f"outputs: OUT/{files['ablations']} (variant, changes, mean/std of each metric, per-fold C-index).\n\n"
                       "examples:\n  memamba ablate ~/.cache/memamba/demo-full --out runs/ablate --epochs 10\n"
                       "  memamba ablate COHORT --out runs/ab --variants full pathology_only genomics_only")
    p.add_argument("cohort", type=Path, help="cohort folder or cohort.toml")
    p.add_argument("--variants", nargs="+", help="run only these variants (default: the whole grid)")
    _add_train_options(p)
    p.set_defaults(func=_cmd_ablate)

    p = sub.add_parser("bench", help="training speed benchmark (writes benchmarks/results/*.json)", formatter_class=raw,
                       description="Run benchmarks/bench_train.py (one epoch over the demo cohort and a whole 5-fold run; JSON "
                       "under benchmarks/results/) from a source checkout, or with --quick a built-in timing of one training step.",
                       epilog="examples:\n  memamba bench\n  memamba bench --quick")
    p.add_argument("--quick", action="store_true", help="a few seconds: time forward+backward of the default model on a synthetic bag")
    p.add_argument("--profile", help="demo profile for the benchmark script (default full)")
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("benchmark", help="leaderboard: cohorts × endpoints × models × folds under one protocol (resumable)",
                       formatter_class=raw,
                       description="Score every model on every cohort and endpoint under one written protocol (published split "
                       "files where the cohort has them; every model on the same patients; neural models a fixed recipe with a "
                       "seed ensemble, Cox models their penalty by inner CV on the training folds). One run folder per cell "
                       "under OUT/cells/; a rerun resumes. Under torchrun the cells are split across the ranks.",
                       epilog="outputs: OUT/protocol.json (the protocol card), OUT/cells/<cell>/ (run folders),\n"
                       "         OUT/leaderboard.csv|json|md|png and OUT/leaderboard_gaps.csv (paired gaps with CIs).\n\n"
                       "examples:\n  memamba benchmark ../shared/data/tcga_blca stad.toml@os,dss --out runs/leaderboard\n"
                       "  memamba benchmark COHORT --models memamba_genomics coxnet --epochs 10 --out runs/lb\n"
                       "  torchrun --nproc_per_node 2 -m memamba_core.cli benchmark COHORT --out runs/lb")
    p.add_argument("cohorts", nargs="+", help="cohort folders or cohort files, each optionally @ENDPOINT[,ENDPOINT…] (e.g. stad.toml@os,dss)")
    p.add_argument("--out", type=Path, required=True, help="benchmark folder to create or resume")
    p.add_argument("--models", nargs="+", default=list(choices("benchmark_model")), choices=choices("benchmark_model"),
                   help="models to score (default: all)")
    p.add_argument("--endpoints", nargs="+", default=["os"], help="endpoints of cohorts given without @… (default os)")
    p.add_argument("--epochs", type=int, default=20, help="neural models: epochs of the fixed recipe (default 20)")
    p.add_argument("--ensemble", type=int, default=3, help="neural models: seeds averaged per fold (default 3)")
    p.add_argument("--d-model", type=int, default=16, help="neural models: width (default 16)")
    p.add_argument("--n-inner", type=int, default=3, help="Cox models: inner folds of each training fold (default 3)")
    p.add_argument("--clinical", nargs="+", help="clinical variables (default: age, is_female, stage, grade where present)")
    p.add_argument("--folds", default="auto", choices=choices("folds"), help="split files or generated folds (default auto)")
    p.add_argument("--n-folds", type=int, default=5, help="generated folds (default 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of generated folds (default 0)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the CIs (default 1000)")
    p.add_argument("--num-threads", type=int, default=1, help="torch CPU threads per process (default 1)")
    p.add_argument("--force", action="store_true", help="start over in a folder made with another protocol")
    p.add_argument("--no-progress", action="store_true", help="no progress line")
    p.set_defaults(func=_cmd_benchmark)

    p = sub.add_parser("doctor", help="device, backends in use, kernels found (or why not), and a short speed table", formatter_class=raw,
                       description="Print the device (CPU, GPUs), the scan backend per device, the kernels found or why not "
                       "(fused CPU scan, mamba-ssm, causal-conv1d), the slide readers, and the time of a scan forward/backward, "
                       "one inference and one training step of the default ME-Mamba on synthetic data, per device.",
                       epilog="examples:\n  memamba doctor\n  memamba doctor --quick --json\n"
                       "  memamba doctor --device cuda --infer-patches 100000")
    p.add_argument("--quick", action="store_true", help="small sizes (L = 2,000 scan, N = 2,000 inference, N = 1,500 step): seconds")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--device", nargs="+", help="devices to time (default: cpu, plus cuda where available)")
    p.add_argument("--no-speed", action="store_true", help="facts only, no speed table")
    p.add_argument("--scan-length", type=int, help="L of the scan rows (default 20,000)")
    p.add_argument("--infer-patches", type=int, help="N of the inference row (default 20,000)")
    p.add_argument("--train-patches", type=int, help="N of the training-step row (default 15,000)")
    p.add_argument("--repeats", type=int, help="timed runs per row, median reported (default 3)")
    p.set_defaults(func=_cmd_doctor)
    return top


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``memamba`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return int(args.func(args) or 0)
    except InputError as err:
        print(f"memamba {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nmemamba {args.command}: interrupted at {time.strftime('%H:%M:%S')}; rerun the same command to resume.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
