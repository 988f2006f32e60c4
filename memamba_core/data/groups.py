"""Gene groups: which genomic columns form each of the G genomic tokens.

Two sources, as in the MCAT / SurvPath family:

* ``signatures.csv`` — gene families as (ragged) columns, gene symbols down
  the rows. A family's token is every ``<GENE>_rnaseq``, ``<GENE>_cnv`` and
  ``<GENE>_mut`` column of its genes that exists in the data, sorted by name
  (MCAT's convention, so sizes match published models).
* ``pathways.csv`` — a gene × pathway 0/1 composition matrix (genes as rows,
  first column the gene symbol; pathways as columns), e.g. SurvPath's
  ``pathway_compositions/xena_comps.csv`` (281 Reactome/PID pathways) or
  ``hallmarks_comps.csv`` (50 MSigDB Hallmarks). A pathway's token is the
  columns of the genes marked 1, sorted by name.

Groups keep the file's column order. How well the file's genes match the
genomic table is measured (:class:`GroupsReport`): genes the data lacks are
left out of the tokens (counted in an issue line), groups left with no gene
are dropped (one issue line naming them), and a file none of whose genes is
in the data is an InputError with the overlap — it belongs to another table.
With no groups file, genomic columns are grouped by type (``rnaseq``,
``cnv``, ``mut``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .tables import preview, read_table, short

__all__ = [
    "GeneGroups",
    "GroupsReport",
    "GENOMIC_SUFFIXES",
    "genomic_columns",
    "groups_from_signatures",
    "groups_from_pathways",
    "groups_by_type",
]

GENOMIC_SUFFIXES = ("_rnaseq", "_cnv", "_mut")


@dataclass(frozen=True)
class GeneGroups:
    """G named groups of genomic columns; group g becomes a token of ``sizes[g]`` values."""

    names: tuple[str, ...]
    columns: tuple[tuple[str, ...], ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        """(G,) number of genomic values in each group."""
        return tuple(len(c) for c in self.columns)

    @property
    def all_columns(self) -> tuple[str, ...]:
        """Union of the groups' columns, in first-use order (each once)."""
        return tuple(dict.fromkeys(c for cols in self.columns for c in cols))

    def to_dict(self) -> dict:
        """JSON-safe form (checkpoints store the groups)."""
        return {"names": list(self.names), "columns": [list(c) for c in self.columns]}

    @classmethod
    def from_dict(cls, d: dict, *, source: str | Path | None = None) -> "GeneGroups":
        """Inverse of :meth:`to_dict`. A damaged record (missing keys, names and columns of
        different lengths, non-text entries) is an InputError naming ``source`` (e.g. a fold's meta record)."""
        where = f"{source}: gene groups" if source is not None else "gene groups (no file named)"
        try:
            names, columns = d["names"], d["columns"]
            ok = (isinstance(names, list) and isinstance(columns, list) and len(names) == len(columns)
                  and all(isinstance(n, str) for n in names)
                  and all(isinstance(c, list) and all(isinstance(x, str) for x in c) for c in columns))
        except (KeyError, TypeError) as err:
            raise InputError(f"{where}: expected keys names, columns ({short(err, 80)}); the checkpoint is damaged.") from err
        if not ok:
            raise InputError(
                f"{where}: 'names' must be a list of G group names and 'columns' a list of G lists of column "
                f"names; the checkpoint is damaged — retrain the fold or restore that file."
            )
        return cls(names=tuple(names), columns=tuple(tuple(c) for c in columns))


@dataclass(frozen=True)
class GroupsReport:
    """How a groups file matched the genomic table.

    ``source``: the file name (or ``"by type"``); ``kind``: ``"signatures"``,
    ``"pathways"`` or ``"by type"``; ``n_listed`` / ``n_kept``: groups in the
    file / kept (G); ``genes_listed``: distinct genes the file names;
    ``genes_matched``: of those, genes with a column in the data;
    ``genes_in_data``: distinct genes of the genomic table.
    """

    source: str
    kind: str
    n_listed: int
    n_kept: int
    genes_listed: int
    genes_matched: int
    genes_in_data: int

    def line(self) -> str:
        """One line for display, e.g. ``"hallmarks_comps.csv: 50 of 50 pathways; 819 of 4241 genes in the data (1577)"``."""
        unit = {"signatures": "families", "pathways": "pathways"}.get(self.kind, "groups")
        return (
            f"{self.source}: {self.n_kept} of {self.n_listed} {unit} kept; {self.genes_matched} of its "
            f"{self.genes_listed} genes are in the genomic table ({self.genes_in_data} genes)"
        )

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def genomic_columns(columns) -> list[str]:
    """The ``<GENE>_rnaseq|_cnv|_mut`` columns among ``columns``, in order."""
    return [c for c in columns if isinstance(c, str) and c.endswith(GENOMIC_SUFFIXES)]


def _gene_of(column: str) -> str:
    for s in GENOMIC_SUFFIXES:
        if column.endswith(s):
            return column[: -len(s)]
    return column


def _columns_by_gene(available) -> dict[str, list[str]]:
    """``{gene: [its genomic columns]}`` for the available columns."""
    by_gene: dict[str, list[str]] = {}
    for c in available:
        by_gene.setdefault(_gene_of(c), []).append(c)
    return by_gene


def _clean_genes(genes) -> list[str]:
    return list(dict.fromkeys(str(g).strip() for g in genes if isinstance(g, str) and str(g).strip()))


def _finish(names, gene_lists, path: Path, kind: str, available, issues: list[str]) -> tuple[GeneGroups | None, GroupsReport]:
    """Turn each group's gene list into its sorted columns; measure and report the gene overlap."""
    by_gene = _columns_by_gene(available)
    listed = dict.fromkeys(g for genes in gene_lists for g in genes)
    matched = [g for g in listed if g in by_gene]
    if listed and not matched:
        lower = {g.lower() for g in by_gene}
        hint = (" They match only when upper/lower case is ignored: write the symbols exactly as the genomic table does."
                if any(g.lower() in lower for g in listed) else "")
        raise InputError(
            f"{path}: none of its {len(listed)} genes (e.g. {preview(list(listed)[:3], width=20)}) is in the genomic "
            f"table ({len(by_gene)} genes, e.g. {preview(list(by_gene)[:3], width=20)}): 0 of {len(listed)} overlap.{hint} "
            f"Use the {kind} file that goes with this genomic table (e.g. the composition of the same RNA source)."
        )
    cols = [tuple(sorted(c for g in genes if g in by_gene for c in by_gene[g])) for genes in gene_lists]
    kept_n = [n for n, c in zip(names, cols) if c]
    kept_c = [c for c in cols if c]
    dropped = [n for n, c in zip(names, cols) if not c]
    if len(matched) < len(listed):
        issues.append(
            f"{path.name}: {len(matched)} of its {len(listed)} genes are in the genomic table; the other "
            f"{len(listed) - len(matched)} (e.g. {short(next(g for g in listed if g not in by_gene))}) are left out of the tokens."
        )
    if dropped:
        issues.append(
            f"{path.name}: {len(dropped)} group(s) have no gene with a genomic column in the data and were dropped: "
            f"{preview([repr(n) for n in dropped], limit=8, width=60)}."
        )
    report = GroupsReport(path.name, kind, len(names), len(kept_n), len(listed), len(matched), len(by_gene))
    if not kept_n:
        return None, report
    return GeneGroups(tuple(kept_n), tuple(kept_c)), report


def groups_from_signatures(path: Path, available: list[str], issues: list[str]) -> tuple[GeneGroups | None, GroupsReport]:
    """Families from ``signatures.csv`` (one family per column, genes below). See module doc."""
    sig = read_table(path)
    if sig.shape[1] == 0:
        raise InputError(f"{path}: no columns; signatures.csv has one column per gene family with gene symbols below.")
    names = [str(c) for c in sig.columns]
    genes = [_clean_genes(sig[c].dropna().astype(str)) for c in sig.columns]
    return _finish(names, genes, path, "signatures", available, issues)


def groups_from_pathways(path: Path, available: list[str], issues: list[str]) -> tuple[GeneGroups | None, GroupsReport]:
    """Pathways from a gene × pathway 0/1 matrix (genes as rows). See module doc."""
    comp = read_table(path, drop_unnamed=False)
    if comp.shape[1] < 2:
        raise InputError(
            f"{path}: a pathway composition matrix needs a gene column and at least one pathway column "
            f"(genes as rows, 0/1 values)."
        )
    genes = comp.iloc[:, 0].astype(str).str.strip().to_numpy(dtype=object)
    block = comp.iloc[:, 1:]
    text = [c for c, t in block.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
    if text:
        block = block.assign(**{c: pd.to_numeric(block[c], errors="coerce") for c in text})
    values = block.to_numpy(dtype=np.float64)
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        r, j = map(int, np.argwhere(bad.T)[0][::-1])
        c = comp.columns[j + 1]
        raise InputError(
            f"{path}: column '{short(c)}' must hold 0/1 membership values, but data row {r + 1} "
            f"(gene {short(genes[r])}) holds {short(repr(comp[c].iat[r]))}; fix the matrix."
        )
    names = [str(c) for c in comp.columns[1:]]
    member = values == 1.0
    gene_lists = [_clean_genes(genes[member[:, j]]) for j in range(len(names))]
    return _finish(names, gene_lists, path, "pathways", available, issues)


def groups_by_type(available: list[str]) -> GeneGroups | None:
    """Fallback without a groups file: one token per column type present (``rnaseq``, ``cnv``, ``mut``)."""
    names, cols = [], []
    for s in GENOMIC_SUFFIXES:
        c = tuple(x for x in available if x.endswith(s))
        if c:
            names.append(s[1:])
            cols.append(c)
    return GeneGroups(tuple(names), tuple(cols)) if names else None
