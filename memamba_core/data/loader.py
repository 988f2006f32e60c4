"""``load_cohort``: a folder or cohort file → a validated :class:`Cohort`. Never writes.

Steps: resolve the files (:mod:`.config`, :mod:`.layouts`), choose the
endpoint (:mod:`.endpoints`), parse and validate the label CSV
(:mod:`.labels`), join the clinical table (:mod:`.clinical`), build gene
groups and the genomic matrix (:mod:`.groups`, :mod:`.genomics`), index the
feature files per slide (:mod:`.bags`; the files themselves are read later,
lazily) and infer their width (:mod:`.widths`), read the split files
(:mod:`.splits`). Missing modalities and left-out patients are collected in
``cohort.issues``; only a cohort with no patient or with nothing usable (no
pathology and no genomics for anyone) is an error.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .bags import BagCache, SlideFiles, index_folder, slide_stem
from .clinical import join_clinical
from .cohort import Cohort
from .config import CohortConfig, resolve_config
from .endpoints import DEFAULT_ENDPOINT, available_endpoints, get_endpoint
from .genomics import genomics_from_file, genomics_from_labels
from .groups import genomic_columns, groups_by_type, groups_from_pathways, groups_from_signatures
from .labels import CLINICAL_COLUMNS, parse_labels
from .splits import read_splits
from .tables import read_table

__all__ = ["load_cohort"]


def load_cohort(path: str | Path, *, endpoint: str | None = None, cache_items: int = 8,
                cache_bytes: int = 2 << 30) -> Cohort:
    """Load a cohort from a folder (any published layout) or a ``.toml`` / ``.yaml`` cohort file.

    ``endpoint`` (``"os"``, ``"dss"`` or ``"pfi"``) overrides the cohort file's
    ``endpoint`` key; the default is ``"os"``. The patients' survival is that
    endpoint's; patients with no value for it are left out (an issue line).
    ``cache_items`` / ``cache_bytes`` bound the LRU cache of loaded bags.
    Raises :class:`~memamba_core.errors.InputError` for bad input (see
    ``docs/data.md``), e.g. an endpoint the cohort lacks (naming those it has).
    Nothing in the cohort folder is written.

    Example::

        >>> cohort = load_cohort("/work/shared/data/tcga_stad_survpath", endpoint="dss")  # doctest: +SKIP
        >>> cohort.endpoint, cohort.endpoints, len(cohort.groups.names)                   # doctest: +SKIP
        ('dss', ('os', 'dss', 'pfi'), 281)
    """
    cfg = resolve_config(path)
    chosen = get_endpoint(endpoint, where="load_cohort(endpoint=...)") if endpoint is not None else (
        get_endpoint(cfg.endpoint or DEFAULT_ENDPOINT))
    if cfg.labels is None:
        raise InputError(
            f"{cfg.root}: no label CSV found; put the label table (case_id, slide_id, survival_months, "
            f"censorship) in the folder as a .csv, .csv.gz or .zip, or name it in cohort.toml: labels = \"<file>\"."
        )
    issues: list[str] = []
    df = read_table(cfg.labels)
    table = parse_labels(df, cfg.labels, chosen)
    issues += table.issues
    patients = table.patients
    clinical_columns = tuple(c for c in CLINICAL_COLUMNS if any(c in p.clinical for p in patients))
    if cfg.clinical is not None:
        patients, clinical_columns = join_clinical(cfg.clinical, patients, issues, frozenset(table.left_out))
    case_ids = [p.case_id for p in patients]

    groups, report, genomics = _genomics(cfg, df, table, case_ids, issues)
    slides = _index_slides(cfg, patients, issues)

    cohort = Cohort(
        root=cfg.root,
        name=cfg.name,
        patients=patients,
        groups=groups,
        splits=[],
        issues=issues,
        config=cfg,
        endpoint=chosen.name,
        endpoints=available_endpoints(df.columns),
        groups_report=report,
        clinical_columns=clinical_columns,
        _genomics=genomics,
        _slides=slides,
        _cache=BagCache(cache_items, cache_bytes),
    )
    cohort.splits, removed = read_splits(cfg.splits, set(case_ids), frozenset(table.left_out))
    if removed:
        issues.append(f"split files: {removed} patient(s) left out for the '{chosen.name}' endpoint were removed from the splits.")
    if cfg.feature_dim is None:
        cohort.probe_feature_dim()
    _report_modalities(cohort, cfg)
    return cohort


def _groups(cfg: CohortConfig, available: list[str], issues: list[str]):
    if cfg.signatures is not None:
        return groups_from_signatures(cfg.signatures, available, issues)
    if cfg.pathways is not None:
        return groups_from_pathways(cfg.pathways, available, issues)
    groups = groups_by_type(available)
    if groups is not None:
        issues.append(
            "no signatures.csv or pathways.csv: genomic columns grouped by type "
            f"({', '.join(groups.names)}); add signatures.csv for the MCAT gene families."
        )
    return groups, None


def _genomics(cfg: CohortConfig, df, table, case_ids, issues):
    if cfg.genomics is not None:
        in_labels = genomic_columns(df.columns)
        if in_labels:
            issues.append(f"{cfg.labels.name}: genomic columns ignored; the genomics come from {cfg.genomics.name}.")
        found: dict = {}

        def columns_of(available):
            found["groups"], found["report"] = _groups(cfg, available, issues)
            return found["groups"].all_columns if found["groups"] is not None else ()

        matrix, _ = genomics_from_file(cfg.genomics, case_ids, columns_of, issues, frozenset(table.left_out))
        groups, report = found["groups"], found["report"]
    else:
        available = genomic_columns(df.columns)
        if not available:
            issues.append(f"{cfg.labels.name}: no genomic columns (<GENE>_rnaseq|_cnv|_mut): genomics missing for all patients.")
            return None, None, None
        groups, report = _groups(cfg, available, issues)
        matrix = None
        if groups is not None:
            matrix = genomics_from_labels(df, cfg.labels, table.first_row, case_ids, groups.all_columns, issues)
    if groups is None:
        return None, report, None
    n_missing = int((~matrix.present).sum())
    if n_missing:
        examples = [c for c, ok in zip(case_ids, matrix.present) if not ok][:3]
        issues.append(f"{n_missing} patient(s) have no genomic values (e.g. {', '.join(examples)}): genomics marked missing.")
    return groups, report, matrix


def _index_slides(cfg: CohortConfig, patients, issues: list[str]) -> dict[str, SlideFiles]:
    pt = index_folder(cfg.pt_dir, ".pt", cfg.root)
    h5 = index_folder(cfg.h5_dir, ".h5", cfg.root)
    out: dict[str, SlideFiles] = {}
    for p in patients:
        for s in p.slide_ids:
            stem = slide_stem(s)
            out[s] = SlideFiles(s, h5.get(stem) or h5.get(s), pt.get(stem) or pt.get(s))
    if cfg.pt_dir is None and cfg.h5_dir is None:
        issues.append("no pt_files/ or h5_files/ folder: pathology missing for all patients.")
        return out
    no_file = [s for s, f in out.items() if not f.any]
    if no_file:
        issues.append(f"{len(no_file)} of {len(out)} slide(s) have no feature file (e.g. {no_file[0]}).")
    used = {f.pt.name[:-3] for f in out.values() if f.pt} | {f.h5.name[:-3] for f in out.values() if f.h5}
    stray = sorted((set(pt) | set(h5)) - used)
    if stray:
        issues.append(f"{len(stray)} feature file(s) match no slide_id in the label CSV and were ignored (e.g. {stray[0]}).")
    return out


def _report_modalities(cohort: Cohort, cfg: CohortConfig) -> None:
    ids = cohort.case_ids()
    path = [cohort.has_pathology(c) for c in ids]
    gen = [cohort.has_genomics(c) for c in ids]
    if cfg.pt_dir is not None or cfg.h5_dir is not None:
        n = path.count(False)
        if n:
            cohort.issues.append(f"{n} patient(s) have no slide features: pathology marked missing.")
    neither = [c for c, a, b in zip(ids, path, gen) if not a and not b]
    if len(neither) == len(ids):
        raise InputError(
            f"{cfg.root}: nothing usable — no patient has slide features (pt_files/, h5_files/) or genomic values "
            f"(<GENE>_rnaseq|_cnv|_mut columns with signatures.csv or pathways.csv). Issues found: "
            + " ".join(cohort.issues)
        )
    if neither:
        cohort.issues.append(f"{len(neither)} patient(s) have neither slide features nor genomics (e.g. {neither[0]}).")
