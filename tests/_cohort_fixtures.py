"""Builders of small cohorts in the published layouts, for tests of any area.

* :func:`make_clam_cohort` — a one-cohort folder (MCAT label CSV + CLAM feature files);
* :func:`make_mcat_repo` — a clone of MCAT / MOTCat / CMTA (several studies, ``splits/5foldcv/``);
* :func:`make_survpath_cohort` — the SurvPath / PIBD layout (metadata with three endpoints,
  plain-symbol RNA, pathway compositions or signatures, clinical table, splits).

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

__all__ = [
    "make_clam_cohort", "make_mcat_repo", "make_survpath_cohort", "label_frame", "write_splits", "write_h5", "write_pt",
    "slide_features", "PATCH_SIZE", "gene_names", "survpath_gene_names",
]

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
    labels = label_frame(n_patients, n_genes=n_genes, genomics=genomics, multi_slide_case=multi_slide_case, seed=seed)
    if with_h5 or with_pt:
        for slide_no, slide_id in enumerate(labels["slide_id"]):
            feats, coords = slide_features(slide_no, 4 + slide_no % 5, feature_dim, seed)
            stem = slide_id[: -len(".svs")]
            if with_h5:
                write_h5(root / "h5_files" / f"{stem}.h5", feats, coords)
            if with_pt:
                write_pt(root / "pt_files" / f"{stem}.pt", torch.from_numpy(feats))
    genes = gene_names(n_genes)
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
        write_splits(root / "splits", [f"CASE-{i:03d}" for i in range(n_patients)], n_splits)
    return root


def label_frame(n_patients: int, *, n_genes: int = 10, genomics: bool = True, multi_slide_case: bool = True,
                seed: int = 0) -> pd.DataFrame:
    """The MCAT label table of :func:`make_clam_cohort` (one row per slide; see its doc)."""
    rng = np.random.default_rng(seed)
    genes = gene_names(n_genes)
    rows = []
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
            rows.append({
                "case_id": case, "slide_id": f"{case}-DX{s + 1}.svs", "site": "AA", "is_female": i % 2,
                "oncotree_code": "BLCA", "age": 50 + i, "survival_months": 5.0 + 7 * i,
                "censorship": i % 2, **gen,
            })
    return pd.DataFrame(rows)


def write_splits(folder: Path, ids: list[str], n_splits: int) -> None:
    """``splits_<k>.csv`` (unnamed index, ragged ``train`` / ``val``): fold k validates ``ids[k::n]``."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n_splits):
        val = ids[k::n_splits]
        train = [c for c in ids if c not in val]
        pd.DataFrame({"train": pd.Series(train, dtype=object), "val": pd.Series(val, dtype=object)}).to_csv(
            folder / f"splits_{k}.csv")


def _zip_csv(path: Path, frame: pd.DataFrame, inner: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(inner, frame.to_csv())


def make_mcat_repo(tmp_path: Path, studies=("tcga_blca", "tcga_brca"), *, csv_dir: str = "datasets_csv_sig",
                   suffix: str = ".csv.zip", n_patients: int = 8, n_genes: int = 10, n_splits: int = 5,
                   name: str = "mcat_repo") -> Path:
    """A clone of MCAT / MOTCat (``csv_dir="datasets_csv_sig"`` or ``"dataset_csv"``) or CMTA
    (``csv_dir="csv"``, ``suffix=".zip"``): per study ``<csv_dir>/<study>_all_clean<suffix>`` (a zip
    holding the label CSV of :func:`label_frame`, ``n_patients + k`` patients for the k-th study),
    ``<csv_dir>/signatures.csv`` (two families) and ``splits/5foldcv/<study>/splits_<k>.csv``."""
    root = Path(tmp_path) / name
    root.mkdir(parents=True, exist_ok=False)
    for k, study in enumerate(studies):
        labels = label_frame(n_patients + k, n_genes=n_genes, seed=k)
        _zip_csv(root / csv_dir / f"{study}_all_clean{suffix}", labels, f"{study}_all_clean.csv")
        write_splits(root / "splits" / "5foldcv" / study, list(dict.fromkeys(labels["case_id"])), n_splits)
    genes = gene_names(n_genes)
    pd.DataFrame({"Family A": pd.Series(genes[0::2]), "Family B": pd.Series(genes[1::2])}).to_csv(
        root / csv_dir / "signatures.csv", index=False)
    return root


def survpath_gene_names(n_genes: int) -> list[str]:
    """Plain gene symbols of :func:`make_survpath_cohort`'s RNA table."""
    return [f"G{j}" for j in range(n_genes)]


def make_survpath_cohort(tmp_path: Path, study: str = "tcga_test", n_patients: int = 12, *, n_genes: int = 12,
                         sources=("xena",), pathway_sets=("xena", "hallmarks"), groups_style: str = "comps",
                         clinical: bool = True, n_splits: int = 5, missing_dss=(), extra_studies=(),
                         name: str = "survpath", seed: int = 0) -> Path:
    """A cohort in the SurvPath (``groups_style="comps"``) or PIBD (``"signatures"``) layout.

    Under ``tmp_path / name``:

    * ``datasets_csv/metadata/<study>.csv`` — unnamed index, ``case_id`` ``P-000``…, ``slide_id``,
      ``age``, ``site``, OS / DSS / PFI times and censorships, ``is_female``, ``oncotree_code``,
      ``train``; patient 0 has two slides. OS time ``5 + 7 i``, censorship ``i % 2``; DSS the same
      time, censored also when ``i % 3 == 0``; PFI time ``0`` for patient 1, else half the OS time,
      censorship ``(i + 1) % 2``. Patients in ``missing_dss`` have empty DSS cells.
    * ``datasets_csv/raw_rna_data/<source>/<x>/rna_clean.csv`` for each source — one row per
      patient plus two not in the labels (``EXTRA-0``, ``EXTRA-1``), the case id in an unnamed
      first column, then plain gene symbols ``G0``… (``x`` = study without ``tcga_``).
    * groups for each pathway set: ``pathway_compositions/<set>_comps.csv`` (gene x pathway 0/1,
      unnamed gene column) or ``metadata/<set>_signatures.csv`` (ragged). ``xena``: pathways
      ``R<j>`` = genes with ``g % 4 == j`` (4 pathways, every gene); ``hallmarks``: ``HALLMARK_A``
      (even genes + 3 genes the RNA lacks), ``HALLMARK_B`` (genes 1, 3), ``HALLMARK_EMPTY``
      (only absent genes: dropped); other names: one pathway of all genes.
    * ``datasets_csv/clinical_data/<study>_clinical.csv`` — unnamed index, ``case_id``, ``stage``,
      ``grade``, ``subtype``; patient 2 twice, patient 3 without stage, one case not in the labels.
    * ``splits/5foldcv/<study>/splits_<k>.csv``.
    * ``extra_studies``: more studies with only a metadata table (a repository clone holds several).
    """
    root = Path(tmp_path) / name
    ds = root / "datasets_csv"
    (ds / "metadata").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    ids = [f"P-{i:03d}" for i in range(n_patients)]
    rows = []
    for i, case in enumerate(ids):
        os_t = 5.0 + 7 * i
        for s in range(2 if i == 0 else 1):
            dss_missing = i in missing_dss
            rows.append({
                "case_id": case, "slide_id": f"{case}-01Z-00-DX{s + 1}.svs", "age": 40.0 + i, "site": "XX",
                "survival_months": os_t, "survival_months_dss": np.nan if dss_missing else os_t,
                "survival_months_pfi": 0.0 if i == 1 else os_t / 2,
                "censorship": i % 2, "censorship_dss": np.nan if dss_missing else int(i % 2 or i % 3 == 0),
                "censorship_pfi": (i + 1) % 2, "is_female": float(i % 2), "oncotree_code": "TEST", "train": 1.0,
            })
    meta = pd.DataFrame(rows)
    if missing_dss:
        meta["censorship_dss"] = meta["censorship_dss"].astype("Int64")
    meta.to_csv(ds / "metadata" / f"{study}.csv")
    for other in extra_studies:
        meta.head(2).to_csv(ds / "metadata" / f"{other}.csv")
    x = study[len("tcga_"):] if study.startswith("tcga_") else study
    genes = survpath_gene_names(n_genes)
    for src in sources:
        rna = pd.DataFrame(rng.normal(size=(n_patients + 2, n_genes)).round(4), columns=genes,
                           index=ids + ["EXTRA-0", "EXTRA-1"])
        (ds / "raw_rna_data" / src / x).mkdir(parents=True)
        rna.to_csv(ds / "raw_rna_data" / src / x / "rna_clean.csv")
    for pset in pathway_sets:
        if pset == "xena":
            members = {f"R{j}": [g for k, g in enumerate(genes) if k % 4 == j] for j in range(4)}
        elif pset == "hallmarks":
            members = {"HALLMARK_A": genes[0::2] + ["ABSENT1", "ABSENT2", "ABSENT3"], "HALLMARK_B": [genes[1], genes[3]],
                       "HALLMARK_EMPTY": ["ABSENT1", "ABSENT4"]}
        else:
            members = {f"{pset.upper()}_ALL": list(genes)}
        _write_groups(ds, pset, members, groups_style)
    if clinical:
        crow = [{"case_id": c, "stage": ["I", "II", "III", "IV"][i % 4], "grade": f"G{1 + i % 3}", "subtype": "T"}
                for i, c in enumerate(ids)]
        crow[3]["stage"] = np.nan
        crow.insert(3, dict(crow[2]))
        crow.append({"case_id": "NOT-A-PATIENT", "stage": "I", "grade": "G1", "subtype": "T"})
        (ds / "clinical_data").mkdir()
        pd.DataFrame(crow).to_csv(ds / "clinical_data" / f"{study}_clinical.csv")
    if n_splits:
        write_splits(root / "splits" / "5foldcv" / study, ids, n_splits)
    return root


def _write_groups(ds: Path, pset: str, members: dict[str, list[str]], style: str) -> None:
    if style == "comps":
        all_genes = list(dict.fromkeys(g for gs in members.values() for g in gs))
        comp = pd.DataFrame({p: [int(g in gs) for g in all_genes] for p, gs in members.items()}, index=all_genes)
        (ds / "pathway_compositions").mkdir(exist_ok=True)
        comp.to_csv(ds / "pathway_compositions" / f"{pset}_comps.csv")
    elif style == "signatures":
        pd.DataFrame({p: pd.Series(gs, dtype=object) for p, gs in members.items()}).to_csv(
            ds / "metadata" / f"{pset}_signatures.csv", index=False)
    else:
        raise ValueError(f"groups_style must be comps or signatures, got {style!r}")
