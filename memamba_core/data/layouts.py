"""The published cohort layouts, recognised by their folder structure.

Three layouts, tried in this order (:func:`discover`):

``survpath`` — SurvPath / PIBD (a clone of mahmoodlab/SurvPath or zylbuaa/PIBD, or one cancer of it)::

    datasets_csv/metadata/<study>.csv                      labels: one row per slide, OS / DSS / PFI
    datasets_csv/raw_rna_data/<source>/<x>/rna_clean.csv   RNA: unnamed case-id column, plain gene symbols
    datasets_csv/pathway_compositions/<set>_comps.csv      gene x pathway 0/1 (SurvPath), or
    datasets_csv/metadata/<set>_signatures.csv             pathways as ragged columns (PIBD)
    datasets_csv/clinical_data/<study>_clinical.csv        case_id, stage, grade, subtype
    splits/5foldcv/<study>/splits_<k>.csv

  ``<study>`` is e.g. ``tcga_stad`` and ``<x>`` the same without ``tcga_``.
  ``<source>`` / ``<set>`` is ``xena`` (281 Reactome/PID pathways),
  ``hallmarks`` (50 MSigDB Hallmarks) or ``combine`` (both). Defaults: the RNA
  source is the only one present, else the pathway set's own, else ``xena``;
  the pathway set is the RNA source's own, else the only one present.
  Otherwise set ``rna_source`` / ``pathway_set`` in the cohort file.

``mcat`` — MCAT / MOTCat (``datasets_csv_sig/`` or ``dataset_csv/``) and CMTA (``csv/``)::

    <dir>/<study>_all_clean.csv.zip   (.csv, .csv.gz, or .zip as CMTA names it)
    <dir>/signatures.csv              the six MCAT gene families
    splits/5foldcv/<study>/splits_<k>.csv

``folder`` — a folder of one cohort: the label CSV at the top (any name),
``signatures.csv`` or ``pathways.csv``, ``genomics.csv``, ``clinical.csv``,
``splits/splits_<k>.csv`` or ``splits_<k>.csv`` (see ``docs/data.md``).

A folder holding several studies (a whole repository clone) needs
``study = "tcga_<x>"``; the message lists the studies found. Nothing here
reads a table's rows; feature folders (``pt_files/``, ``h5_files/``,
``slides/``) are the same in every layout and found by the cohort file reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..paths import resolve_inside
from .tables import preview

__all__ = ["Found", "discover", "split_files_in", "TABLE_SUFFIXES", "SPLIT_RE", "MCAT_DIRS"]

TABLE_SUFFIXES = (".csv", ".csv.gz", ".zip")
SPLIT_RE = re.compile(r"^splits_(\d+)\.csv$")
MCAT_DIRS = ("datasets_csv_sig", "dataset_csv", "csv")
DEFAULT_RNA_SOURCE = "xena"
_ALL_CLEAN = re.compile(r"^(?P<study>.+)_all_clean(\.csv)?(\.zip|\.gz)?$", re.I)
_FOLDER_TABLES = ("signatures.csv", "pathways.csv", "clinical.csv")


@dataclass(frozen=True)
class Found:
    """The files a layout provides (absolute paths inside the root; None = not there)."""

    layout: str
    study: str | None = None
    labels: Path | None = None
    genomics: Path | None = None
    signatures: Path | None = None
    pathways: Path | None = None
    clinical: Path | None = None
    splits: tuple[Path, ...] = ()
    rna_source: str | None = None
    pathway_set: str | None = None


def _inside(root: Path, p: Path, what: str) -> Path:
    return resolve_inside(root, p, what=what)


def _file(root: Path, p: Path, what: str) -> Path | None:
    return _inside(root, p, what) if p.is_file() else None


def split_files_in(folder: Path, root: Path) -> list[Path]:
    """The ``splits_<k>.csv`` files of ``folder``, ordered by k."""
    found = []
    for p in folder.iterdir():
        m = SPLIT_RE.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), _inside(root, p, "split file")))
    return [p for _, p in sorted(found)]


def _study_splits(root: Path, study: str) -> tuple[Path, ...]:
    """``splits/5foldcv/<study>/``, else the one ``splits/<scheme>/<study>/`` there is."""
    base = root / "splits"
    if not base.is_dir():
        return ()
    preferred = base / "5foldcv" / study
    cands = [preferred] if preferred.is_dir() else sorted(d / study for d in base.iterdir() if (d / study).is_dir())
    if len(cands) == 1:
        return tuple(split_files_in(cands[0], root))
    return ()


def _pick_study(studies: list[str], study: str | None, where: str, layout: str) -> str:
    if study is not None:
        if study not in studies:
            raise InputError(
                f"{where}: study = '{study}' is not in this {layout} folder; it has {preview(studies)}. Fix 'study'."
            )
        return study
    if len(studies) == 1:
        return studies[0]
    raise InputError(
        f"{where}: this {layout} folder holds several studies ({preview(studies)}); say which one in a "
        f"cohort.toml: study = \"{studies[0]}\" (the cohort file may live elsewhere and point here with root = \"…\")."
    )


def _name_choice(options: dict, given: str | None, key: str, fallback: str | None, where: str, what: str) -> str | None:
    """Resolve a named choice (``rna_source`` / ``pathway_set``) among ``options``."""
    if given is not None:
        if given not in options:
            have = preview(sorted(options)) if options else "none"
            raise InputError(f"{where}: {key} = '{given}' has no {what} here (available: {have}); fix '{key}'.")
        return given
    if fallback is not None and fallback in options:
        return fallback
    if len(options) == 1:
        return next(iter(options))
    if not options:
        return None
    raise InputError(
        f"{where}: several {what}s ({preview(sorted(options))}); choose one in the cohort file: {key} = \"{sorted(options)[0]}\"."
    )


def _survpath(root: Path, study: str | None, rna_source: str | None, pathway_set: str | None, where: str) -> Found:
    ds = root / "datasets_csv"
    meta = ds / "metadata"
    studies = sorted(p.name[:-4] for p in meta.iterdir()
                     if p.is_file() and p.name.endswith(".csv") and not p.name.endswith("signatures.csv"))
    if not studies:
        raise InputError(f"{where}: datasets_csv/metadata/ holds no <study>.csv label table (e.g. tcga_stad.csv); add it.")
    study = _pick_study(studies, study, where, "SurvPath-layout")
    x = study[len("tcga_"):] if study.startswith("tcga_") else study
    rna_dir = ds / "raw_rna_data"
    sources = {d.name: d / x / "rna_clean.csv" for d in sorted(rna_dir.iterdir())
               if (d / x / "rna_clean.csv").is_file()} if rna_dir.is_dir() else {}
    comps_dir = ds / "pathway_compositions"
    sets: dict[str, tuple[str, Path]] = {}
    for p in sorted(meta.glob("*_signatures.csv")):
        sets[p.name[: -len("_signatures.csv")]] = ("signatures", p)
    if comps_dir.is_dir():
        for p in sorted(comps_dir.glob("*_comps.csv")):
            sets[p.name[: -len("_comps.csv")]] = ("pathways", p)
    fallback = pathway_set if pathway_set in sources else DEFAULT_RNA_SOURCE
    source = _name_choice(sources, rna_source, "rna_source", fallback, where, "RNA source under datasets_csv/raw_rna_data")
    chosen = _name_choice(sets, pathway_set, "pathway_set", source, where, "pathway set") if source is not None else None
    kind, groups_file = sets[chosen] if chosen is not None else (None, None)
    return Found(
        layout="survpath",
        study=study,
        labels=_file(root, meta / f"{study}.csv", "label CSV"),
        genomics=_inside(root, sources[source], "RNA table") if source is not None else None,
        signatures=_inside(root, groups_file, "signatures") if kind == "signatures" else None,
        pathways=_inside(root, groups_file, "pathway composition") if kind == "pathways" else None,
        clinical=_file(root, ds / "clinical_data" / f"{study}_clinical.csv", "clinical table"),
        splits=_study_splits(root, study),
        rna_source=source,
        pathway_set=chosen,
    )


def _mcat_tables(folder: Path) -> dict[str, Path]:
    out = {}
    for p in sorted(folder.iterdir()):
        m = _ALL_CLEAN.match(p.name)
        if m and p.is_file() and p.name.lower().endswith(TABLE_SUFFIXES):
            out.setdefault(m.group("study"), p)
    return out


def _mcat(root: Path, folder: Path, study: str | None, where: str) -> Found:
    tables = _mcat_tables(folder)
    study = _pick_study(sorted(tables), study, where, "MCAT-layout")
    return Found(
        layout="mcat",
        study=study,
        labels=_inside(root, tables[study], "label CSV"),
        signatures=_file(root, folder / "signatures.csv", "signatures"),
        splits=_study_splits(root, study),
    )


def _is_table(p: Path) -> bool:
    return p.is_file() and p.name.lower().endswith(TABLE_SUFFIXES)


def _folder_labels(root: Path, exclude: set, study: str | None, header) -> Path | None:
    """The label CSV of a one-cohort folder: the one table at the top level that is not a
    signatures / pathways / genomics / clinical / split file. With several, the one(s) whose header
    has ``case_id`` and ``survival_months`` (or whose name starts with ``study``); still several is an error."""
    cands = sorted(
        p for p in root.iterdir()
        if _is_table(p) and p.resolve() not in exclude and not SPLIT_RE.match(p.name)
        and p.name.lower() not in _FOLDER_TABLES and not p.name.lower().startswith("genomics.")
    )
    if study is not None:
        cands = [p for p in cands if p.name.startswith(f"{study}_all_clean") or p.name.startswith(f"{study}.")]
    if len(cands) <= 1:
        return _inside(root, cands[0], "label CSV") if cands else None
    with_labels = [p for p in cands if {"case_id", "survival_months"} <= set(header(p))]
    if len(with_labels) == 1:
        return _inside(root, with_labels[0], "label CSV")
    names = preview([p.name for p in (with_labels or cands)])
    raise InputError(
        f"{root}: several tables could be the label CSV ({names}); "
        f"name the right one in a cohort.toml in that folder: labels = \"<file>\"."
    )


def _folder(root: Path, study: str | None, exclude: set, header) -> Found:
    sub = root / "splits"
    splits = tuple(split_files_in(sub, root)) if sub.is_dir() else ()
    if not splits:
        splits = tuple(split_files_in(root, root))
    signatures = _file(root, root / "signatures.csv", "signatures")
    genomics = next((p for p in (_file(root, root / n, "genomics") for n in ("genomics.csv", "genomics.csv.gz", "genomics.zip")) if p), None)
    return Found(
        layout="folder",
        study=study,
        labels=_folder_labels(root, exclude, study, header),
        genomics=genomics,
        signatures=signatures,
        pathways=None if signatures else _file(root, root / "pathways.csv", "pathways"),
        clinical=_file(root, root / "clinical.csv", "clinical table"),
        splits=splits,
    )


def discover(root: Path, *, study: str | None = None, rna_source: str | None = None, pathway_set: str | None = None,
             exclude: set | None = None, header=None, where: str | None = None) -> Found:
    """Recognise the layout of ``root`` and find its files (see module doc). Never writes.

    ``exclude`` — resolved paths the cohort file already assigned (not label candidates);
    ``header(path) -> list[str]`` reads a table's column names (used to choose among candidates).
    """
    where = where or str(root)
    if (root / "metadata").is_dir() and (root / "raw_rna_data").is_dir():
        raise InputError(
            f"{where}: this is the datasets_csv/ folder of the SurvPath layout; give the folder above it "
            f"({root.parent}), which also holds splits/."
        )
    if (root / "datasets_csv" / "metadata").is_dir():
        return _survpath(root, study, rna_source, pathway_set, where)
    if rna_source is not None or pathway_set is not None:
        key = "rna_source" if rna_source is not None else "pathway_set"
        raise InputError(
            f"{where}: '{key}' applies to the SurvPath / PIBD layout (datasets_csv/raw_rna_data/<source>/, "
            f"pathway_compositions/<set>_comps.csv), which {root} does not have; remove '{key}' or name the files "
            f"with genomics = \"…\" / pathways = \"…\"."
        )
    for d in MCAT_DIRS:
        if (root / d).is_dir() and _mcat_tables(root / d):
            return _mcat(root, root / d, study, where)
    return _folder(root, study, exclude or set(), header or (lambda p: []))
