"""Cross-validation splits: published split files, or generated stratified folds.

A split file ``splits_<k>.csv`` (MCAT layout) has columns ``train``, ``val``
and optionally ``test``, each a ragged column of ``case_id``s (shorter columns
padded with empty cells); an unnamed leading index column is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .tables import read_table, short

__all__ = ["Split", "read_split", "read_splits", "make_folds"]


@dataclass(frozen=True)
class Split:
    """One fold: disjoint tuples of ``case_id``s (file order for read splits)."""

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"train": list(self.train), "val": list(self.val), "test": list(self.test)}

    @classmethod
    def from_dict(cls, d: dict) -> "Split":
        return cls(tuple(d["train"]), tuple(d["val"]), tuple(d.get("test", ())))


def read_split(path: Path, known: set[str], left_out: frozenset[str] = frozenset()) -> Split:
    """Read and validate one split file against the cohort's case ids ``known``.

    Cases in ``left_out`` (patients of the label CSV left out for lack of an
    endpoint value) are removed silently. Raises InputError for a missing
    ``train``/``val`` column, a case the label CSV does not have (naming file,
    column, case), or a case in two columns.
    """
    df = read_table(path)
    missing = [c for c in ("train", "val") if c not in df.columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(repr(c) for c in missing)}; a split file has columns "
            f"train, val (and optionally test) of case_ids."
        )
    parts = {}
    for col in ("train", "val", "test"):
        if col not in df.columns:
            parts[col] = ()
            continue
        ids = tuple(dict.fromkeys(v for v in df[col].dropna() if v not in left_out))
        unknown = [c for c in ids if c not in known]
        if unknown:
            more = f" and {len(unknown) - 1} more" if len(unknown) > 1 else ""
            raise InputError(
                f"{path}: column '{col}' names case {short(unknown[0])}{more}, which is not in the label CSV; "
                f"fix the split file or add the patient to the labels."
            )
        parts[col] = ids
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        both = set(parts[a]) & set(parts[b])
        if both:
            raise InputError(
                f"{path}: case {short(sorted(both)[0])} is in both '{a}' and '{b}' ({len(both)} such case(s)); "
                f"a patient belongs to one part of a split."
            )
    return Split(parts["train"], parts["val"], parts["test"])


def read_splits(paths, known: set[str], left_out: frozenset[str] = frozenset()) -> tuple[list[Split], int]:
    """Read every split file (see :func:`read_split`); also returns how many distinct
    ``left_out`` cases the files named (and were removed)."""
    splits = [read_split(p, known, left_out) for p in paths]
    named = set()
    if left_out:
        for p in paths:
            df = read_table(p)
            for col in ("train", "val", "test"):
                if col in df.columns:
                    named |= left_out & set(df[col].dropna())
    return splits, len(named)


def make_folds(case_ids: list[str], events: np.ndarray, k: int = 5, seed: int = 0) -> list[Split]:
    """k patient-level folds stratified by event, deterministic in ``seed``.

    ``case_ids`` (P,), ``events`` (P,) bool. Within each event class the
    patients are shuffled with ``numpy.random.default_rng(seed)`` and dealt
    round-robin to the folds (continuing the rotation across classes so fold
    sizes differ by at most one). Fold j's ``val`` is its patients; ``train``
    the rest, both in cohort order.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise InputError(f"number of folds must be an integer ≥ 2, got {k!r}.")
    n = len(case_ids)
    if n < k:
        raise InputError(f"cannot make {k} folds from {n} patient(s); use at most {n} folds or add patients.")
    rng = np.random.default_rng(seed)
    events = np.asarray(events, dtype=bool)
    fold = np.empty(n, dtype=np.int64)
    start = 0
    for cls in (True, False):
        idx = np.flatnonzero(events == cls)
        idx = idx[rng.permutation(idx.size)]
        fold[idx] = (start + np.arange(idx.size)) % k
        start = (start + idx.size) % k
    ids = np.asarray(case_ids, dtype=object)
    return [Split(tuple(ids[fold != j]), tuple(ids[fold == j])) for j in range(k)]
