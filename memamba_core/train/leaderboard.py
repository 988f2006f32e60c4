"""``memamba benchmark``: cohorts × endpoints × models × folds under one written protocol.

Glossary: P patients, K time bins, C genomic columns, V clinical variables.

A **cell** is one (cohort, endpoint, model); it is cross-validated on the
cohort's published split files when it has them (else ``n_folds`` stratified
folds, seed ``split_seed``), restricted to the patients with genomics, so every
model of a cohort × endpoint sees exactly the same training and validation
patients (the paired comparisons of :mod:`.leaderboard_table` rely on it).

Models (``choices("benchmark_model")`` in :mod:`memamba_core.models.registry`):

* ``memamba_genomics`` — ME-Mamba's genomics path: one token per gene group
  (per-group two-layer SNN), the Genomics Expert (scan branches off: LayerNorm and
  gated-attention pooling, the recipe of ``benchmarks/blca_genomics.py``), MLP head;
* ``memamba_clinical`` — the same model with the V clinical variables as V more
  tokens (:func:`memamba_core.data.clinical_tokens.with_clinical_tokens`);
* ``snn`` — MCAT's SNN on the same genes;
* ``coxnet`` — elastic-net Cox on the same genes (:class:`~memamba_core.models.coxnet.ElasticNetCox`);
* ``clinical_cox`` — elastic-net Cox on the clinical variables alone.

Selection rule (:class:`Protocol`, saved in the protocol card): the neural
models use a **fixed recipe** written before any run (no choice is made on any
fold); each is trained with seeds 0 … ``ensemble`` − 1 on the whole training fold
and their risks averaged. The Cox models choose (l1_ratio, alpha) by **inner CV
on the training fold only** (``n_inner`` stratified inner folds). The validation
fold is read once, to score.

Output folder (this module spells its layout)::

    <out>/protocol.json          the protocol card: protocol, cohorts (split source, split hash, G, C), models, cells
    <out>/cells/<cell>/          one run folder per cell (:mod:`.leaderboard_cells`; memamba_core.runs, kind "nested": per fold the
                                 prediction table and the selection record, the out-of-fold table, the summary)
    <out>/leaderboard.csv|json|md, leaderboard.png   the table (:mod:`.leaderboard_table`)

Resumable: a rerun with the same protocol skips every finished fold of every
cell (a killed benchmark loses at most the folds in progress); another protocol
in the same folder is refused. Under torchrun the cells are split across the
ranks (:func:`memamba_core.sharding.run_sharded`, longest first); rank 0 writes
the table when all are done.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data import Cohort, load_cohort
from ..data.clinical_tokens import clinical_encoding
from ..data.endpoints import get_endpoint
from ..data.splits import Split
from ..dist import Dist
from ..errors import InputError
from ..models.registry import check_choice, choices
from ..paths import atomic_write_text
from .config import TrainConfig, model_template
from .cv import resolve_model_config, usable_folds

__all__ = ["Protocol", "CohortSpec", "Cell", "plan_cells", "run_benchmark", "parse_cohort_arg", "PROTOCOL_FILE",
           "CELLS_DIR", "cell_dir"]

PROTOCOL_FILE = "protocol.json"
CELLS_DIR = "cells"


@dataclass(frozen=True)
class Protocol:
    """Everything that decides a leaderboard's numbers (saved as the protocol card)."""

    folds: str = "auto"  # a choices("folds") value: published split files if the cohort has them, else generated
    n_folds: int = 5  # generated folds (cohorts without split files)
    split_seed: int = 0  # seed of generated folds
    n_bins: int = 4  # K time bins of the neural models (quartiles of the training fold's event times)
    epochs: int = 20  # neural models: epochs of the fixed recipe
    d_model: int = 16  # neural models: width d
    lr: float = 1e-3
    weight_decay: float = 1e-2
    l1_genomic: float = 0.3  # proximal L1 on the genomic input weights (ME-Mamba, SNN)
    grad_accum: int = 32  # patients per step
    ensemble: int = 3  # neural models: seeds 0 … ensemble−1 averaged
    n_inner: int = 3  # Cox models: inner folds of each training fold
    l1_ratios: tuple[float, ...] = (0.1, 0.5, 0.9)  # Cox models: elastic-net mixing candidates
    n_alphas: int = 20  # Cox models: penalties per path
    clinical_variables: tuple[str, ...] | None = None  # None: age, is_female, stage, grade where present
    n_boot: int = 1000  # bootstrap resamples of the table's CIs
    threads: int = 1  # torch CPU threads per process

    def __post_init__(self):
        check_choice("folds", self.folds, "benchmark protocol")
        for name in ("n_folds", "n_bins", "epochs", "d_model", "grad_accum", "ensemble", "n_inner", "n_alphas", "n_boot"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (2 if name in ("n_folds", "n_bins", "n_inner") else 1):
                raise InputError(f"benchmark protocol: {name} must be an integer ≥ {2 if name in ('n_folds', 'n_bins', 'n_inner') else 1}, got {v!r}.")
        for name in ("lr", "weight_decay", "l1_genomic"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0 or (name == "lr" and v == 0):
                raise InputError(f"benchmark protocol: {name} must be a finite number {'> 0' if name == 'lr' else '≥ 0'}, got {v!r}.")
        object.__setattr__(self, "l1_ratios", tuple(float(r) for r in self.l1_ratios))
        if self.clinical_variables is not None:
            object.__setattr__(self, "clinical_variables", tuple(str(v) for v in self.clinical_variables))

    def to_dict(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def train_config(self, model: str) -> TrainConfig:
        """The fixed recipe of a neural benchmark model (``memamba_genomics``, ``memamba_clinical``, ``snn``)."""
        if model == "snn":
            mcfg = model_template(model="snn", d_model=self.d_model, dropout=0.25)
        else:
            mcfg = model_template(model="memamba", modalities="genomics", d_model=self.d_model, dropout=0.25, n_layers=1,
                                  scan_forward=False, scan_reverse=False, scan_ranked=False)
        return TrainConfig(model=mcfg, optimizer="adam", lr=self.lr, weight_decay=self.weight_decay, epochs=self.epochs,
                           grad_accum=self.grad_accum, l1_genomic=self.l1_genomic, selection="last", folds=self.folds,
                           n_folds=self.n_folds, seed=self.split_seed, n_bins=self.n_bins, eval_every=0,
                           num_threads=self.threads)


NEURAL = ("memamba_genomics", "memamba_clinical", "snn")
COX = ("coxnet", "clinical_cox")
CLINICAL = ("memamba_clinical", "clinical_cox")  # models that read the clinical variables


@dataclass(frozen=True)
class CohortSpec:
    """A cohort (folder or cohort file) and the endpoints to score on it."""

    path: Path
    endpoints: tuple[str, ...] = ("os",)


def parse_cohort_arg(text: str, default_endpoints=("os",)) -> CohortSpec:
    """``PATH`` or ``PATH@ENDPOINT[,ENDPOINT…]`` (e.g. ``stad.toml@os,dss``) → :class:`CohortSpec`."""
    path, _, eps = str(text).rpartition("@") if "@" in str(text) else (str(text), "", "")
    endpoints = tuple(dict.fromkeys(e.strip().lower() for e in (eps.split(",") if eps else default_endpoints) if e.strip()))
    if not path or not endpoints:
        raise InputError(f"cohort {text!r}: write PATH or PATH@ENDPOINT[,ENDPOINT…], e.g. stad.toml@os,dss.")
    return CohortSpec(Path(path).expanduser(), endpoints)


@dataclass
class Cell:
    """One (cohort, endpoint, model) of the leaderboard, with its folds (shared by the cohort × endpoint)."""

    key: str  # "<cohort slug>/<endpoint>/<model>"
    cohort_slug: str
    cohort_name: str
    endpoint: str
    model: str
    folds: list[Split]
    fold_source: str
    cohort: Cohort = field(repr=False)


def cell_dir(out: Path, key: str) -> Path:
    """The run folder of cell ``key`` inside benchmark folder ``out``."""
    return Path(out) / CELLS_DIR / key.replace("/", "__")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "cohort"


def _split_hash(folds: list[Split]) -> str:
    blob = json.dumps([{"train": sorted(f.train), "val": sorted(f.val)} for f in folds], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _load(spec: CohortSpec, endpoint: str) -> Cohort:
    if not spec.path.exists():
        raise InputError(f"benchmark: cohort {spec.path} does not exist; give a cohort folder or cohort file.")
    get_endpoint(endpoint, where=f"benchmark: endpoint of {spec.path}")
    try:
        return load_cohort(spec.path, endpoint=endpoint)
    except InputError as err:
        raise InputError(f"benchmark: {spec.path}@{endpoint}: {err}") from None


def _check_output(out: str | Path, cohorts: list[Cell]) -> Path:
    """``out`` resolved; InputError when it lies inside a cohort's folder (outputs never land in an input)."""
    out = Path(out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise InputError(f"benchmark: the output {out} exists and is not a folder; choose a new --out folder.")
    for root in {c.cohort.root.resolve() for c in cohorts}:
        if out == root or root in out.parents:
            raise InputError(f"benchmark: the output folder {out} is inside the cohort folder {root}; write it elsewhere.")
    return out


def plan_cells(cohorts: list[CohortSpec], models, protocol: Protocol) -> tuple[list[Cell], dict]:
    """Load every cohort × endpoint, check every model can run on it, fix the folds; (cells, cohort cards).

    Every problem is found here, before anything is trained (InputError).
    """
    models = tuple(dict.fromkeys(models))
    if not models:
        raise InputError("benchmark: no model given; choose some of " + ", ".join(choices("benchmark_model")) + ".")
    for m in models:
        check_choice("benchmark_model", m, "benchmark")
    if not cohorts:
        raise InputError("benchmark: no cohort given; pass cohort folders or cohort files.")
    cells, cards, slugs = [], {}, set()
    genomics_cfg = protocol.train_config("memamba_genomics")
    for spec in cohorts:
        base_slug = None
        for endpoint in spec.endpoints:
            cohort = _load(spec, endpoint)
            if cohort.groups is None:
                raise InputError(f"benchmark: cohort '{cohort.name}' has no genomics; every benchmark model of this "
                                 "leaderboard is scored on the patients with genomics.")
            if base_slug is None:
                base_slug = _slug(cohort.config.study or cohort.name)
                while base_slug in slugs:
                    base_slug += "_2"
                slugs.add(base_slug)
            if any(m in CLINICAL for m in models):
                clinical_encoding(cohort, protocol.clinical_variables)  # the variables exist (InputError otherwise)
            folds, source, excluded = usable_folds(cohort, genomics_cfg, resolve_model_config(cohort, genomics_cfg))
            card_key = f"{base_slug}/{endpoint}"
            cards[card_key] = {
                "cohort": cohort.name, "path": str(spec.path), "endpoint": endpoint, "endpoint_title": cohort.endpoint_title,
                "n_patients": sum(len(f.val) for f in folds), "excluded_without_genomics": len(excluded),
                "n_events": int(sum(cohort.patient(c).event for f in folds for c in f.val)),
                "fold_source": source, "split_hash": _split_hash(folds), "n_folds": len(folds),
                "gene_groups": len(cohort.groups.names), "genomic_columns": len(cohort.genomic_columns),
                "gene_overlap": cohort.groups_report.line() if cohort.groups_report is not None else "",
                "clinical_variables": list(clinical_encoding(cohort, protocol.clinical_variables).variables)
                if any(m in CLINICAL for m in models) else [],
            }
            for m in models:
                cells.append(Cell(f"{card_key}/{m}", base_slug, cohort.name, endpoint, m, folds, source, cohort))
    return cells, cards


# ---- the whole benchmark ------------------------------------------------------------------------
def _cost(cell: Cell) -> float:
    """Relative cost for balancing ranks: patients × (neural: ensemble × tokens; Cox: genomic columns / 50)."""
    n = sum(len(f.val) for f in cell.folds)
    g = len(cell.cohort.groups.names) if cell.cohort.groups is not None else 1
    return float(n * ((g + 10) * 3 if cell.model in NEURAL else max(1.0, len(cell.cohort.genomic_columns) / 50)))


def _start_folder(out: Path, card: dict, force: bool) -> None:
    p = out / PROTOCOL_FILE
    if p.is_file():
        try:
            old = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            old = None
        same = isinstance(old, dict) and {k: old.get(k) for k in ("protocol", "cohorts", "models")} == \
            {k: card[k] for k in ("protocol", "cohorts", "models")}
        if not same and not force:
            raise InputError(f"{out}: this benchmark folder was made with another protocol, cohorts or models; use a new "
                             "--out folder (results of different protocols are never mixed), or --force.")
    elif out.exists() and any(q.name != CELLS_DIR and not q.name.startswith(".") for q in out.iterdir()):
        raise InputError(f"{out}: the folder is not empty and holds no benchmark; choose a new --out folder.")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(p, json.dumps(card, indent=2))


def run_benchmark(cohorts: list[CohortSpec], models, out: str | Path, protocol: Protocol | None = None, *,
                  dist: Dist | None = None, force: bool = False, progress=None, command: str = "") -> dict:
    """Run (or resume) every cell into ``out`` and write the leaderboard; returns the leaderboard record.

    Under torchrun pass ``dist`` (:func:`memamba_core.dist.init_distributed`): cells are split across ranks.
    Inputs given by a user are checked against the output (``out`` may not be inside a cohort folder).
    """
    import torch

    from ..sharding import Outcome, run_sharded
    from .leaderboard_cells import cell_complete, run_cell
    from .leaderboard_table import write_leaderboard

    protocol = protocol or Protocol()
    d = dist or Dist()
    cells, cards = plan_cells(cohorts, models, protocol)
    out = _check_output(out, cells)
    card = {"protocol": protocol.to_dict(), "cohorts": cards, "models": list(dict.fromkeys(models)),
            "cells": [c.key for c in cells], "selection": {
                "neural": "fixed recipe (protocol), seeds 0…ensemble−1 averaged; no choice made on any fold",
                "cox": "(l1_ratio, alpha) by inner stratified CV on the training fold only"},
            "command": command}
    err = None
    if d.is_main:
        try:
            _start_folder(out, card, force)
        except InputError as e:
            err = str(e)
    err = d.broadcast(err)  # every rank stops on rank 0's refusal (none waits for a rank that gave up)
    if err is not None:
        raise InputError(err)
    threads = torch.get_num_threads()
    torch.set_num_threads(protocol.threads)
    t0 = time.perf_counter()
    by_key = {c.key: c for c in cells}

    def work(key: str, tick) -> Outcome:
        try:
            run_cell(by_key[key], protocol, out, tick)
        except InputError as err:
            return Outcome(ok=False, detail=str(err))
        return Outcome(ok=True)

    try:
        report = run_sharded([c.key for c in cells], work, dist=d, done=lambda k: cell_complete(by_key[k], out),
                             cost=[_cost(c) for c in cells], progress=progress)
    finally:
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - t0
    failed = dict(report.failed)
    if not d.is_main:
        return {}
    return write_leaderboard(out, cells, card, protocol, seconds=seconds, world=d.world, failed=failed,
                             owner={k: int(r) for k, r in report.owner.items()})
