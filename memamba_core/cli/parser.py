"""The ``memamba`` argument parser: every subcommand's inputs, outputs, help and examples (the commands: :mod:`.commands`,
:mod:`.clinical`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..runs import file_names
from .clinical import _cmd_calibrate, _cmd_predict, _cmd_report
from .commands import (_cmd_ablate, _cmd_bench, _cmd_benchmark, _cmd_demo, _cmd_doctor, _cmd_evaluate, _cmd_export_qupath,
                       _cmd_extract, _cmd_train)

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
  torchrun --nproc_per_node 4 -m memamba_core.cli train /data/demo --out runs/x --parallel folds
"""


def _choice_help(field: str) -> str:
    """``a: what a; b: what b`` for a registry choice field (models: their one-line descriptions)."""
    from ..models import choices, describe_choice

    return "; ".join(f"{v}: {describe_choice(field, v)}" for v in choices(field))


def _add_train_options(p: argparse.ArgumentParser) -> None:
    from ..models import choices
    from ..train.config import TrainConfig

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
    _add_threads(g, None)
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
    _add_no_progress(o, f" (the progress log {file_names()['progress']} is written anyway)")
    o.add_argument("--parallel", choices=choices("parallel"), default="auto",
                   help=f"under torchrun — {_choice_help('parallel')} (default auto; see docs/scale.md)")


def _add_threads(p, default: int | None = 0, per: str = "", tip: str = "") -> None:
    """``--num-threads`` (read by :func:`memamba_core.cli.commands.set_threads`); None: the config's value."""
    said = "" if default is None else f"default {default}; "
    p.add_argument("--num-threads", type=int, default=default, help=f"torch CPU threads{per} ({said}0 = torch's own choice){tip}")


def _add_no_progress(p, note: str = "") -> None:
    p.add_argument("--no-progress", action="store_true", help=f"no progress display{note}")


def _add_horizons(p: argparse.ArgumentParser) -> None:
    p.add_argument("--horizons", type=float, nargs="+", metavar="MONTHS", help="survival horizons in months (default 12 36 60 "
                   "where at least two lie inside the follow-up the calibration supports, else yearly ones inside it; "
                   "one beyond it is an error)")


def build_parser() -> argparse.ArgumentParser:
    from ..models import choices

    raw = argparse.RawDescriptionHelpFormatter
    files = file_names()
    top = argparse.ArgumentParser(
        prog="memamba",
        description="ME-Mamba multimodal survival analysis (whole-slide images + genomics): "
        "build the demo cohort, extract patch features, cross-validate, evaluate, calibrate, predict, report, ablate, benchmark.",
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
    _add_no_progress(p)
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
    _add_no_progress(p)
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

    p = sub.add_parser("predict", help="apply a run (or one checkpoint) to a cohort → CSV of calibrated survival", formatter_class=raw,
                       description="Predict every patient of COHORT. Given a run folder with its calibration (written by "
                       "`memamba train`, or `memamba calibrate`): each patient of the run's cohort is scored by the fold model "
                       "that did not train on them (out-of-fold), anyone else by the ensemble of the fold models that did not "
                       "(their spread reported), and the risk is turned into calibrated survival probabilities. Given a fold "
                       "folder, or --fold: that one model (its calibrated columns when the run has a calibration). "
                       "The cohort must have the checkpoint's feature width and gene groups.",
                       epilog="outputs (run folder): CSV with case_id, scored_by (out-of-fold | ensemble), folds, risk (raw model "
                       "units; an ensemble's mean) with risk_low/risk_high (range across the fold models), risk_group (low | "
                       "intermediate | high, cut-offs fixed on training patients), percentile (among training patients), "
                       "surv_<h>m with _low/_high (survival probability at each horizon h months with its interval), "
                       "median_months with median_low/median_high (blank: not reached), follow_up_months, interval (which "
                       "kind), survival_months, censorship.\n"
                       "outputs (one fold): case_id, risk, S_1..S_K (the model's own step curve), survival_months, "
                       "censorship, event, in_training, and the calibrated columns above when the run has a calibration.\n\n"
                       "examples:\n  memamba predict runs/demo ~/.cache/memamba/demo-full --out preds.csv\n"
                       "  memamba predict runs/demo /data/other_cohort --out preds.csv --horizons 12 24\n"
                       "  memamba predict runs/demo/fold_0 ~/.cache/memamba/demo-full --out preds.csv\n"
                       "  memamba predict runs/demo /data/other_cohort --fold 2 --out preds.csv")
    p.add_argument("checkpoint", type=Path, help=f"run folder, fold folder (fold_<k>/), or a fold's {files['weights']}")
    p.add_argument("cohort", type=Path, help="cohort folder or cohort.toml")
    p.add_argument("--out", type=Path, required=True, help="CSV file to write (not inside the cohort or the run)")
    p.add_argument("--fold", type=int, help="one fold of a run folder instead of who-scores-whom")
    _add_horizons(p)
    _add_threads(p, tip="; 1 is fastest on a busy machine, where extra threads wait for one another")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("calibrate", help="fit and store a run's calibration (risk → survival probabilities)", formatter_class=raw,
                       description="Fit each fold model's calibration map on training patients of that fold only (the other "
                       "folds' out-of-fold predictions: each scored by a model that did not train on them; docs/calibration.md) "
                       "and store it with the run, with the out-of-fold patients' calibrated monthly survival. "
                       "`memamba train` does this after its last fold; use this command for an older run or after "
                       "retraining a fold. A nested run (`memamba benchmark` cells; no weights) is calibrated from the "
                       "reference risks its folds kept, and its summary gets the calibrated IBS against the Kaplan–Meier null.",
                       epilog=f"inputs:  RUN — a finished run folder; COHORT — the cohort it was trained on.\n"
                       f"outputs: RUN/{files['calibration']} (the maps) and RUN/{files['calibrated_oof']} "
                       "(case_id, fold, risk, percentile, risk_group, surv_0m … surv_<M>m).\n\n"
                       "examples:\n  memamba calibrate runs/demo ~/.cache/memamba/demo-full")
    p.add_argument("run", type=Path, help="run folder")
    p.add_argument("cohort", type=Path, help="the cohort folder (or cohort.toml) the run was trained on")
    p.set_defaults(func=_cmd_calibrate)

    p = sub.add_parser("report", help="PDF report, one page per patient (a cohort or --patient)", formatter_class=raw,
                       description="Write a PDF with one page per patient: who scored them (out-of-fold or ensemble), "
                       "calibrated survival with its band against the cohort's Kaplan–Meier curve, survival at the horizons "
                       "and the median with their intervals, risk group and percentile, the slide with the attention overlay "
                       "and top patches, the leading gene groups and genes, the run and model, \"research use only\". "
                       "Patients that cannot be scored are listed on stderr.",
                       epilog="inputs:  RUN — a run folder with its calibration (`memamba calibrate`); COHORT.\n"
                       "outputs: --out PDF (never inside the cohort or the run folder).\n\n"
                       "examples:\n  memamba report runs/demo ~/.cache/memamba/demo-full --out report.pdf\n"
                       "  memamba report runs/demo ~/.cache/memamba/demo-full --out p7.pdf --patient DEMO-0007")
    p.add_argument("run", type=Path, help="run folder")
    p.add_argument("cohort", type=Path, help="cohort folder or cohort.toml")
    p.add_argument("--out", type=Path, required=True, help="PDF file to write")
    p.add_argument("--patient", nargs="+", metavar="ID", help="only these patients (default: the whole cohort)")
    _add_horizons(p)
    _add_threads(p)
    _add_no_progress(p)
    p.set_defaults(func=_cmd_report)

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

    p = sub.add_parser("export-qupath", help="a cohort's attention maps as QuPath GeoJSON, one file per slide (resumable)",
                       formatter_class=raw,
                       description="Predict every patient of COHORT with the checkpoint RUN and write, for each slide, the "
                       "model's output as QuPath GeoJSON in level-0 pixel coordinates: one detection per patch (its "
                       "attention in every branch, its bag row and, with optimal transport, its OT group and mass as "
                       "measurements; coloured by the --branch attention), the top-k patches as annotations 'top <rank>', "
                       "and one annotation per OT group (the union of the patches sending it most mass).",
                       epilog="outputs: OUT/<slide_id>.geojson per slide and OUT/export.json (settings and files written,\n"
                       "         updated after each patient). In QuPath: open the slide, then File → Import objects (or\n"
                       "         drag the .geojson onto it).\n"
                       "resume:  rerun the same command: slides already written are kept. A folder holding anything\n"
                       "         else, or an export of another run, cohort or settings, is refused.\n"
                       "errors:  a patient whose features cannot be read is left out with the reason (printed), not the\n"
                       "         cohort; exit status 1 when nothing could be exported. OUT may not lie inside the cohort\n"
                       "         or the run folder (inputs are never written).\n\n"
                       "examples:\n  memamba export-qupath runs/demo ~/.cache/memamba/demo-full --out qupath/demo\n"
                       "  memamba export-qupath runs/blca /data/tcga_blca --out qupath/blca --fold 2 --branch ranked --k 20")
    p.add_argument("run", type=Path, help=f"run folder (with --fold), fold folder, or a fold's {files['weights']}")
    p.add_argument("cohort", type=Path, help="cohort folder or cohort.toml (the slides' patch features, with coordinates)")
    p.add_argument("--out", type=Path, required=True, help="folder to write the GeoJSON files into (created; outside the cohort and run)")
    p.add_argument("--fold", type=int, help="fold of a run folder (default: its first finished fold)")
    p.add_argument("--k", type=int, default=10, help="top patches per patient outlined as annotations (default 10)")
    p.add_argument("--branch", default="pool", help="attention branch that colours the detections: pathology/<branch> "
                   "of the model output, e.g. pool or ranked (default pool); every branch is written as a measurement")
    _add_threads(p)
    _add_no_progress(p)
    p.set_defaults(func=_cmd_export_qupath)

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
    _add_threads(p, 1, per=" per process")
    p.add_argument("--force", action="store_true", help="start over in a folder made with another protocol")
    _add_no_progress(p)
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
