"""Builders of small cohorts in the MCAT / CLAM layout, for tests of any area.

Usage::

    from tests._cohort_fixtures import make_clam_cohort

    def test_something(tmp_path):
        root = make_clam_cohort(tmp_path, n_patients=8, feature_dim=16)
        cohort = load_cohort(root)

What :func:`make_clam_cohort` writes under ``tmp_path / name``:

* ``labels.csv`` (or ``.csv.gz`` / ``.zip``): one row per slide with an unnamed
  leading index column, ``case_id`` ``CASE-000``…, ``slide_id``
  ``CASE-000-DX1.svs``…, ``survival_months``, ``censorship`` (alternating 0/1
  so both classes exist), clinical columns, and (``genomics=True``) the columns
  ``GENE<j>_rnaseq`` for every gene and ``GENE<j>_cnv`` for even j;
* ``signatures.csv``: two families (``Family A`` = even genes, ``Family B`` = odd genes);
* ``h5_files/<slide>.h5`` (features, coords with ``patch_size`` / ``patch_level``
  attrs) and/or ``pt_files/<slide>.pt``, slide names without ``.svs``;
* ``splits/splits_<k>.csv`` when ``n_splits`` > 0.

Features encode their coordinates so alignment is checkable: for every patch,
``features[:, 0] == coords[:, 0]`` and ``features[:, 1] == coords[:, 1]``
(level-0 x, y); the other columns are seeded noise. With
``multi_slide_case=True`` the first patient has two slides (DX1, DX2).
"""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import torch

__all__ = ["make_clam_cohort", "write_h5", "write_pt", "slide_features", "PATCH_SIZE", "gene_names"]

PATCH_SIZE = 256


def gene_names(n_genes: int) -> list[str]:
    return [f"GENE{j}" for j in range(n_genes)]


def write_h5(path: Path, features: np.ndarray, coords: np.ndarray | None, *, patch_size: int = PATCH_SIZE,
             patch_level: int = 0, attrs_on: str = "coords") -> Path:
    """Write a CLAM ``.h5``: ``features`` (N, D), ``coords`` (N, 2); attrs on the
    ``coords`` dataset (``attrs_on="coords"``) or the file (``"file"``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset("features", data=features)
        target = f
        if coords is not None:
            target = f.create_dataset("coords", data=coords)
        if attrs_on == "file":
            target = f
        target.attrs["patch_size"] = patch_size
        target.attrs["patch_level"] = patch_level
    return path


def write_pt(path: Path, obj) -> Path:
    """Write ``obj`` with ``torch.save`` (a CLAM ``.pt`` is one (N, D) tensor)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)
    return path


def slide_features(slide_number: int, n_patches: int, feature_dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, D) float32, coords (N, 2) int64) for one slide; features[:, :2] = coords."""
    rng = np.random.default_rng(seed * 1000 + slide_number)
    cols = np.arange(n_patches)
    coords = np.stack([cols * PATCH_SIZE + slide_number * 100_000, (cols % 3) * PATCH_SIZE], axis=1).astype(np.int64)
    feats = rng.normal(size=(n_patches, feature_dim)).astype(np.float32)
    feats[:, 0] = coords[:, 0]
    if feature_dim > 1:
        feats[:, 1] = coords[:, 1]
    return feats, coords


def make_clam_cohort(
    tmp_path: Path,
    n_patients: int = 6,
    feature_dim: int = 8,
    *,
    with_h5: bool = True,
    with_pt: bool = True,
    multi_slide_case: bool = True,
    genomics: bool = True,
    n_genes: int = 10,
    n_splits: int = 0,
    label_format: str = "csv",
    name: str = "cohort",
    seed: int = 0,
) -> Path:
    """Write a small CLAM-format cohort under ``tmp_path / name`` and return that folder.

    ``label_format`` is ``"csv"``, ``"csv.gz"`` or ``"zip"``. Patient i has
    survival ``5 + 7 i`` months and censorship ``i % 2``; slide j (counted over
    the cohort) has ``4 + j % 5`` patches. See the module doc for the layout.
    """
    root = Path(tmp_path) / name
    root.mkdir(parents=True, exist_ok=False)
    rng = np.random.default_rng(seed)
    genes = gene_names(n_genes)
    rows, slide_no = [], 0
    for i in range(n_patients):
        case = f"CASE-{i:03d}"
        n_slides = 2 if (multi_slide_case and i == 0) else 1
        gen = {}
        if genomics:
            for j, g in enumerate(genes):
                gen[f"{g}_rnaseq"] = float(rng.normal())
                if j % 2 == 0:
                    gen[f"{g}_cnv"] = float(rng.integers(-2, 3))
        for s in range(n_slides):
            slide_id = f"{case}-DX{s + 1}.svs"
            rows.append({
                "case_id": case, "slide_id": slide_id, "site": "AA", "is_female": i % 2,
                "oncotree_code": "BLCA", "age": 50 + i, "survival_months": 5.0 + 7 * i,
                "censorship": i % 2, **gen,
            })
            if with_h5 or with_pt:
                feats, coords = slide_features(slide_no, 4 + slide_no % 5, feature_dim, seed)
                stem = slide_id[: -len(".svs")]
                if with_h5:
                    write_h5(root / "h5_files" / f"{stem}.h5", feats, coords)
                if with_pt:
                    write_pt(root / "pt_files" / f"{stem}.pt", torch.from_numpy(feats))
            slide_no += 1
    labels = pd.DataFrame(rows)
    csv_text = labels.to_csv()  # with the unnamed leading index column, as MCAT's files have
    if label_format == "csv":
        (root / "labels.csv").write_text(csv_text)
    elif label_format == "csv.gz":
        with gzip.open(root / "labels.csv.gz", "wt") as fh:
            fh.write(csv_text)
    elif label_format == "zip":
        with zipfile.ZipFile(root / "labels.zip", "w") as zf:
            zf.writestr("labels.csv", csv_text)
    else:
        raise ValueError(f"label_format must be csv, csv.gz or zip, got {label_format!r}")
    if genomics:
        fam_a, fam_b = genes[0::2], genes[1::2]
        sig = pd.DataFrame({"Family A": pd.Series(fam_a), "Family B": pd.Series(fam_b)})
        sig.to_csv(root / "signatures.csv", index=False)
    if n_splits:
        ids = [f"CASE-{i:03d}" for i in range(n_patients)]
        (root / "splits").mkdir()
        for k in range(n_splits):
            val = ids[k::n_splits]
            train = [c for c in ids if c not in val]
            pd.DataFrame({"train": pd.Series(train), "val": pd.Series(val)}).to_csv(root / "splits" / f"splits_{k}.csv")
    return root
