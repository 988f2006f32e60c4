"""A tiny synthetic cohort folder (MCAT/CLAM layout) and tiny model configs for the training tests.

P patients with one slide each: an (N, D_in) ``.pt`` bag and 3 gene groups of
4 ``_rnaseq`` columns. Survival depends on one gene and the mean of one patch
feature, so a model can learn something within a few epochs.
"""

from __future__ import annotations

from pathlib import Path

import json
import numpy as np
import pandas as pd
import pytest
import torch

from memamba_core.models import ModelConfig
from memamba_core.train import TrainConfig
from memamba_core.train.config import model_template

D_IN = 8
GENES = [f"G{i}" for i in range(12)]


def make_cohort(root: Path, n: int = 24, seed: int = 0, *, all_censored: bool = False, pathology: bool = True,
                n_genes: int = 12, d_in: int = D_IN, splits: list[tuple[list[int], list[int]]] | None = None) -> Path:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    genes = GENES[:n_genes]
    x = rng.normal(size=(n, len(genes)))
    rows = []
    if pathology:
        (root / "pt_files").mkdir(exist_ok=True)
    for i in range(n):
        n_patch = int(rng.integers(12, 30))
        feats = rng.normal(size=(n_patch, d_in)).astype(np.float32)
        feats[:, 0] += x[i, 1]
        if pathology:
            torch.save(torch.from_numpy(feats), root / "pt_files" / f"S{i:03d}.pt")
        hazard = np.exp(0.9 * x[i, 0] + 0.6 * x[i, 1])
        t = float(rng.exponential(30 / hazard)) + 0.5
        c = float(rng.exponential(60)) + 1.0
        rows.append({
            "case_id": f"P{i:03d}",
            "slide_id": f"S{i:03d}.svs",
            "survival_months": round(min(t, c), 3),
            "censorship": 1 if (all_censored or c < t) else 0,
            **{f"{g}_rnaseq": x[i, j] for j, g in enumerate(genes)},
        })
    df = pd.DataFrame(rows)
    if not all_censored and (df["censorship"] == 0).sum() < 4:
        df.loc[:3, "censorship"] = 0
    df.to_csv(root / "labels.csv", index=False)
    sig = pd.DataFrame({"A": genes[0:4], "B": genes[4:8], "C": genes[8:12]}) if n_genes == 12 else pd.DataFrame({"A": genes})
    sig.to_csv(root / "signatures.csv", index=False)
    if splits is not None:
        for k, (tr, va) in enumerate(splits):
            width = max(len(tr), len(va))
            pd.DataFrame({
                "train": [f"P{i:03d}" for i in tr] + [None] * (width - len(tr)),
                "val": [f"P{i:03d}" for i in va] + [None] * (width - len(va)),
            }).to_csv(root / f"splits_{k}.csv")
    return root


def outside_copy(cohort_root: Path, dest: Path) -> Path:
    """A copy of a :func:`make_cohort` cohort under new case ids (``P…`` → ``NEW-…``) and without splits: the same
    patients' data, but patients no fold model of a run on the original trained on (by id). Returns its folder."""
    import shutil

    shutil.copytree(cohort_root, dest)
    labels = pd.read_csv(dest / "labels.csv")
    labels["case_id"] = labels["case_id"].str.replace("P", "NEW-", regex=False)
    labels.to_csv(dest / "labels.csv", index=False)
    for f in dest.glob("splits_*.csv"):
        f.unlink()
    return dest


def tiny_model(**changes) -> ModelConfig:
    """A small, fast ME-Mamba config (d = 16, one layer)."""
    base = dict(d_model=16, d_state=4, n_layers=1, dropout=0.1)
    base.update(changes)
    return model_template(**base)


def tiny_train(**changes) -> TrainConfig:
    base = dict(model=tiny_model(), epochs=2, grad_accum=4, lr=1e-3, folds="generated", n_folds=3, max_train_patches=16,
                num_threads=1, eval_every=0)
    if "model" in changes and isinstance(changes["model"], dict):
        changes["model"] = tiny_model(**changes["model"])
    base.update(changes)
    return TrainConfig(**base)


_TRAINED: dict = {}


def trained_run(tmp_path_factory):
    """One tiny cohort (18 patients, with demo-style truth) trained once per test session: (cohort, run folder).

    Tests must not modify the run folder (copy a fold first).
    """
    if "run" not in _TRAINED:
        from memamba_core.data import load_cohort
        from memamba_core.train import train_cv

        base = tmp_path_factory.mktemp("trained")
        root = make_cohort(base / "cohort", n=18)
        write_truth(root)
        cohort = load_cohort(root)
        train_cv(cohort, tiny_train(epochs=1), base / "run", progress=False)
        _TRAINED["run"] = (cohort, base / "run")
    return _TRAINED["run"]


def write_truth(root: Path) -> None:
    """Demo-style truth: ``model.json`` naming the risk-driving class, and ``patch_classes/<slide>.npy``:
    class 1 (tumour) where patch feature 1 > 0, else 0."""
    out = root / "truth" / "patch_classes"
    out.mkdir(parents=True, exist_ok=True)
    (root / "truth" / "model.json").write_text(json.dumps({"classes": ["background", "tumour"], "risk_driving_class": "tumour"}))
    for p in sorted((root / "pt_files").glob("*.pt")):
        feats = torch.load(p, weights_only=True)
        np.save(out / f"{p.stem}.npy", (feats[:, 1] > 0).numpy().astype(np.int8), allow_pickle=False)


def train_two_processes(cohort: Path, out: Path, args: list[str]):
    """``torchrun --standalone --nproc_per_node 2 -m memamba_core.cli train COHORT --out OUT ARGS`` with a clean
    distributed environment and one OpenMP thread per process; returns the CompletedProcess."""
    from tests._torchrun import torchrun

    return torchrun(["-m", "memamba_core.cli", "train", str(cohort), "--out", str(out), *args])


def assert_two_processes_match_one(cohort: Path, tmp_path: Path, args: list[str]):
    """``memamba train`` in one process (→ ``tmp_path/one``) and under torchrun with two (→ ``tmp_path/two``);
    asserts both succeed with the same patients and risks (atol 1e-4); returns their OOF frames (one, two)."""
    from memamba_core.cli import main

    assert main(["train", str(cohort), "--out", str(tmp_path / "one"), *args]) == 0
    proc = train_two_processes(cohort, tmp_path / "two", args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    from memamba_core.runs import read_oof

    one, two = read_oof(tmp_path / "one").to_frame(), read_oof(tmp_path / "two").to_frame()
    assert list(one.case_id) == list(two.case_id)
    np.testing.assert_allclose(two.risk, one.risk, atol=1e-4)
    return one, two


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Run a test module's model passes on one CPU thread (tiny ops: threads only add contention); restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
