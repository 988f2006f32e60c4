"""Building the demo cohort once, into the user cache, and finding it again.

``ensure_demo(profile)`` returns ``cache_dir()/demo-<profile>`` (``$MEMAMBA_CACHE``
overrides the cache folder), building it first when it is not complete. The
folder follows the data contract (``docs/interfaces.md``)::

    cohort.toml            name, labels = "labels.csv", pathways = "pathways.csv"
    labels.csv             MCAT layout: case_id, slide_id, site, is_female, oncotree_code, age,
                           survival_months, censorship, <GENE>_rnaseq ..., <GENE>_cnv ...
    pathways.csv           gene × pathway 0/1 (first column ``gene``) — the default gene groups
    signatures.csv         MCAT's six gene families (ragged columns), an alternative grouping
    slides/<sid>.tif       pyramidal tiled JPEG TIFFs (0.5 µm/px at level 0)
    pt_files/, h5_files/   CLAM features of the built-in encoder (D = 256) + coords
    splits/splits_<k>.csv  k-fold patient splits (train, val), stratified by event
    truth/                 patients.csv (true log-hazard, tumour fraction, pathway activities,
                           event / censoring times), model.json (coefficients, classes),
                           patch_classes/, patch_fractions/, class_maps/ (see slide_job)
    README.md              what the demo is

Completeness (:mod:`memamba_core.demo.folder`): ``.build.json`` (the build's spec) is written
first, ``.complete.json`` last. A folder without ``.complete.json`` is an interrupted build:
it is resumed (finished slides are kept) when its ``.build.json`` matches, otherwise deleted
and rebuilt. A lock file serialises builds of the same profile between processes.

Order: the cohort's tables (labels, gene groups, splits, ``cohort.toml``) come first when
the project ships them for this spec (:mod:`memamba_core.demo.shipped`), so that a
partial folder already loads (every patient, genomics, clinical columns; pathology for
the slides built so far); then the slides (in worker processes when the caller is a
single-threaded process); then every table is computed from the slides and written,
byte-identical to the shipped copy (a difference is reported through ``progress``).
"""

from __future__ import annotations

import io
import json
import multiprocessing as mp
import os
import shutil
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..paths import atomic_write_bytes, atomic_write_text
from .folder import MARKER, demo_dir, discard_stale, is_complete, lock, place_tables, spec_of, start_folder, write_cohort_file
from .genomics import PATHWAYS, make_genomics
from .outcomes import HazardModel, draw_survival
from .profiles import CANCER_TYPES, DemoProfile, get_profile
from .render import TILE, SlideSpec
from .shipped import differing_tables
from .textures import CLASSES, HIGH_GRADE, make_texture_bank

__all__ = ["ensure_demo", "build_demo"]

Progress = Callable[[float, str], None]


def ensure_demo(profile: str | DemoProfile = "full", progress: Progress | None = None, workers: int | None = None) -> Path:
    """The demo cohort folder of ``profile``, built first if needed (see module doc).

    ``progress(fraction, message)`` is called during a build; ``workers`` overrides the profile's
    process count. Returns the folder, ready for :func:`memamba_core.data.load_cohort`.
    """
    p = get_profile(profile)
    root = demo_dir(p)
    if is_complete(root, p):
        return root
    with lock(root.parent / f".demo-{p.name}.lock"):
        if is_complete(root, p):  # built by another process while we waited
            return root
        discard_stale(root, p)
        build_demo(root, p, progress=progress, workers=workers)
    return root


def _patients(p: DemoProfile) -> pd.DataFrame:
    rng = np.random.default_rng([p.seed, 0])
    n = p.n_patients
    types = np.arange(n) % 2
    rng.shuffle(types)
    ws = np.arange(p.width[0] // TILE, p.width[1] // TILE + 1) * TILE
    hs = np.arange(p.height[0] // TILE, p.height[1] // TILE + 1) * TILE
    ids = [f"DEMO-{i + 1:04d}" for i in range(n)]
    return pd.DataFrame({
        "case_id": ids,
        "slide_id": [f"{c}-01Z-00-DX1" for c in ids],
        "site": rng.choice(["S1", "S2", "S3", "S4", "S5", "S6"], n),
        "is_female": (rng.random(n) < 0.35).astype(int),
        "oncotree_code": [CANCER_TYPES[t] for t in types],
        "age": np.clip(np.round(rng.normal(66, 10, n)), 30, 90).astype(int),
        "type": types,
        "width": rng.choice(ws, n), "height": rng.choice(hs, n),
        "tumour_target": rng.uniform(*p.tumour, n),
        "slide_seed": rng.integers(0, 2**31 - 1, n),
        "high_grade_target": np.where(rng.random(n) < p.high_grade_share, rng.uniform(*p.high_grade, n), 0.0),
    })


def _workers(p: DemoProfile, workers: int | None) -> int:
    w = p.workers if workers is None else workers
    return max(1, min(4, os.cpu_count() or 1)) if w <= 0 else w


def _can_fork() -> bool:
    """Worker processes are used only when they can be forked from a single-threaded Linux process
    (the CLI, tests). Inside a server (the dashboard) forking beside other threads can deadlock, and
    ``spawn`` re-runs the server's main script in each worker (Streamlit's ``Home.py``, which would
    wait for this very build): there the build runs in this process instead."""
    single = threading.current_thread() is threading.main_thread() and threading.active_count() == 1
    return sys.platform.startswith("linux") and single


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _save_table(path: Path, df: pd.DataFrame) -> None:
    atomic_write_text(path, df.to_csv(index=False))


def build_demo(root: Path, profile: str | DemoProfile = "full", progress: Progress | None = None,
               workers: int | None = None) -> dict:
    """Build (or finish building) the demo of ``profile`` in ``root``; returns the completion record."""
    from .slide_job import TILING, build_slide  # features → torch: imported once slides are built

    p = get_profile(profile)
    say = progress or (lambda f, m: None)
    t0 = time.perf_counter()
    root = Path(root)
    start_folder(root, p)
    shipped = place_tables(root, p)
    say(0.0, f"demo '{p.name}': " + ("tables in place (shipped); " if shipped else "") + "texture bank")
    build_dir = root / ".build"
    bank_path = build_dir / f"textures-{p.seed}-{p.texture_size}.npy"
    if not bank_path.is_file():
        buf = io.BytesIO()
        np.save(buf, make_texture_bank(p.seed, p.texture_size), allow_pickle=False)
        atomic_write_bytes(bank_path, buf.getvalue())
    pts = _patients(p)
    specs = [
        asdict(SlideSpec(r.slide_id, int(r.width), int(r.height), float(r.tumour_target), int(r.slide_seed),
                         high_grade_target=float(r.high_grade_target)))
        for r in pts.itertuples()
    ]
    n, w = len(specs), (_workers(p, workers) if _can_fork() else 1)
    records: dict[str, dict] = {}
    say(0.03, f"demo '{p.name}': {n} slides with {w} process(es)")
    if w > 1:
        ctx = mp.get_context("fork")
        try:
            with ProcessPoolExecutor(max_workers=w, mp_context=ctx, initializer=_init_worker) as ex:
                futs = {ex.submit(build_slide, str(root), s, str(bank_path), p.jpeg_quality): s["slide_id"] for s in specs}
                for fut in as_completed(futs):
                    records[futs[fut]] = fut.result()
                    say(0.03 + 0.92 * len(records) / n, f"slide {len(records)}/{n}: {futs[fut]}")
        except BrokenProcessPool:  # workers could not start or died (odd __main__, memory): go on here
            say(0.03 + 0.92 * len(records) / n, "worker processes failed; continuing in this process")
    for s in specs:
        if s["slide_id"] not in records:
            records[s["slide_id"]] = build_slide(str(root), s, str(bank_path), p.jpeg_quality)
            say(0.03 + 0.92 * len(records) / n, f"slide {len(records)}/{n}: {s['slide_id']}")
    say(0.96, f"demo '{p.name}': genomics, survival, splits")
    slides = pd.DataFrame([records[s["slide_id"]] for s in specs])
    gen = make_genomics(p.seed, pts["type"].to_numpy(), p.genes_per_pathway)
    surv = draw_survival(p.seed, slides["high_grade_fraction"].to_numpy(), slides["tumour_fraction"].to_numpy(),
                         gen.activity, pts["type"].to_numpy(), pts["age"].to_numpy().astype(float))
    labels = pd.concat([
        pts[["case_id", "slide_id", "site", "is_female", "oncotree_code", "age"]],
        surv[["survival_months", "censorship"]], gen.values,
    ], axis=1)
    _save_table(root / "labels.csv", labels)
    _save_table(root / "pathways.csv", gen.composition)
    _save_table(root / "signatures.csv", gen.families)
    for k, split in enumerate(_folds(pts["case_id"].to_numpy(), surv["censorship"].to_numpy(), p.n_folds, p.seed)):
        _save_table(root / "splits" / f"splits_{k}.csv", split)
    truth = pd.concat([
        pts[["case_id", "slide_id", "oncotree_code", "age", "tumour_target", "high_grade_target"]],
        slides.drop(columns="slide_id"), surv, gen.activity.add_prefix("activity_"),
    ], axis=1)
    _save_table(root / "truth" / "patients.csv", truth)
    if shipped and (differ := differing_tables(root, p)):
        say(0.97, f"demo '{p.name}': the shipped tables differ from the generated ones ({', '.join(differ)}); the "
                  "generated ones are kept — regenerate the asset (python -m memamba_core.demo --export-tables)")
    atomic_write_text(root / "truth" / "model.json", json.dumps({
        "classes": list(CLASSES), "risk_driving_class": CLASSES[HIGH_GRADE], "hazard": HazardModel().to_dict(),
        "pathways": [name for name, _ in PATHWAYS], "tiling": {"patch_size": TILING.patch_size, "target_mpp": TILING.target_mpp},
        "encoder": "builtin-v1",
    }, indent=1))
    write_cohort_file(root, p)
    shutil.rmtree(build_dir, ignore_errors=True)
    done = {
        "spec": spec_of(p), "n_patients": n, "n_patches": int(slides["n_patches"].sum()),
        "censored": float(surv["censorship"].mean()), "seconds": round(time.perf_counter() - t0, 1),
    }
    atomic_write_text(root / MARKER, json.dumps(done, indent=1))
    say(1.0, f"demo '{p.name}' ready: {n} patients, {done['n_patches']} patches")
    return done


def _folds(ids: np.ndarray, censorship: np.ndarray, k: int, seed: int) -> list[pd.DataFrame]:
    """k patient-level folds stratified by event: (train, val) tables, ragged columns."""
    rng = np.random.default_rng([seed, 30])
    fold = np.empty(len(ids), int)
    for v in (0, 1):
        idx = np.flatnonzero(censorship == v)
        rng.shuffle(idx)
        fold[idx] = (np.arange(len(idx)) + v) % k
    out = []
    for f in range(k):
        tr, va = list(ids[fold != f]), list(ids[fold == f])
        L = max(len(tr), len(va))
        out.append(pd.DataFrame({"train": tr + [""] * (L - len(tr)), "val": va + [""] * (L - len(va))}))
    return out


