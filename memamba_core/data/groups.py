"""Gene groups: which genomic columns form each of the G genomic tokens.

Two sources, as in the MCAT / SurvPath family:

* ``signatures.csv`` — gene families as (ragged) columns, gene symbols down
  the rows. A family's token is every ``<GENE>_rnaseq``, ``<GENE>_cnv`` and
  ``<GENE>_mut`` column of its genes that exists in the data, sorted by name
  (MCAT's convention, so sizes match published models).
* ``pathways.csv`` — a gene × pathway 0/1 composition matrix (genes as rows,
  first column the gene symbol; pathways as columns). A pathway's token is the
  columns of the genes marked 1, sorted by name.

Groups keep the file's column order. A group with no column in the data is
dropped and reported as an issue. With no groups file, genomic columns are
grouped by type (``rnaseq``, ``cnv``, ``mut``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .tables import read_table

__all__ = [
    "GeneGroups",
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
    def from_dict(cls, d: dict) -> "GeneGroups":
        return cls(names=tuple(d["names"]), columns=tuple(tuple(c) for c in d["columns"]))


def genomic_columns(columns) -> list[str]:
    """The ``<GENE>_rnaseq|_cnv|_mut`` columns among ``columns``, in order."""
    return [c for c in columns if isinstance(c, str) and c.endswith(GENOMIC_SUFFIXES)]


def _token_columns(genes, available: set[str]) -> tuple[str, ...]:
    genes = dict.fromkeys(str(g).strip() for g in genes if isinstance(g, str) and str(g).strip())
    return tuple(sorted(c for g in genes for c in (g + s for s in GENOMIC_SUFFIXES) if c in available))


def _finish(names, cols, path: Path, issues: list[str]) -> GeneGroups | None:
    kept_n, kept_c = [], []
    for n, c in zip(names, cols):
        if c:
            kept_n.append(n)
            kept_c.append(c)
        else:
            issues.append(f"{path.name}: group '{n}' has no gene with a genomic column in the data; dropped.")
    if not kept_n:
        issues.append(f"{path.name}: no group has any genomic column in the data; genomics unavailable.")
        return None
    return GeneGroups(tuple(kept_n), tuple(kept_c))


def groups_from_signatures(path: Path, available: list[str], issues: list[str]) -> GeneGroups | None:
    """Families from ``signatures.csv`` (one family per column). See module doc."""
    sig = read_table(path)
    if sig.shape[1] == 0:
        raise InputError(f"{path}: no columns; signatures.csv has one column per gene family with gene symbols below.")
    avail = set(available)
    names = [str(c) for c in sig.columns]
    cols = [_token_columns(sig[c].dropna().astype(str), avail) for c in sig.columns]
    return _finish(names, cols, path, issues)


def groups_from_pathways(path: Path, available: list[str], issues: list[str]) -> GeneGroups | None:
    """Pathways from a gene × pathway 0/1 matrix (genes as rows). See module doc."""
    comp = read_table(path, drop_unnamed=False)
    if comp.shape[1] < 2:
        raise InputError(
            f"{path}: a pathway composition matrix needs a gene column and at least one pathway column "
            f"(genes as rows, 0/1 values)."
        )
    genes = comp.iloc[:, 0].astype(str).str.strip()
    avail = set(available)
    names, cols = [], []
    for c in comp.columns[1:]:
        v = pd.to_numeric(comp[c], errors="coerce")
        bad = np.flatnonzero(~v.isin([0, 1]).to_numpy())
        if bad.size:
            raise InputError(
                f"{path}: column '{c}' must hold 0/1 membership values, but data row {bad[0] + 1} "
                f"(gene {genes.iat[bad[0]]}) holds {comp[c].iat[bad[0]]!r}; fix the matrix."
            )
        names.append(str(c))
        cols.append(_token_columns(genes[v.to_numpy() == 1], avail))
    return _finish(names, cols, path, issues)


def groups_by_type(available: list[str]) -> GeneGroups | None:
    """Fallback without a groups file: one token per column type present."""
    names, cols = [], []
    for s in GENOMIC_SUFFIXES:
        c = tuple(x for x in available if x.endswith(s))
        if c:
            names.append(s[1:])
            cols.append(c)
    return GeneGroups(tuple(names), tuple(cols)) if names else None
