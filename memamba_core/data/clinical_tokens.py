"""Clinical variables as model inputs: one token per variable, next to the gene groups.

Glossary: P patients, V clinical variables, G gene groups, C genomic columns.

A clinical variable (``age``, ``is_female``, ``stage``, ``grade``, … as the cohort
has them, :attr:`Cohort.clinical_columns`) becomes one group of columns:

* numeric (every present value is a number): ``clinical:<var>`` (the value) and
  ``clinical:<var>:missing`` (1 where the patient lacks it);
* categorical: one 0/1 column ``clinical:<var>=<level>`` per level (levels sorted,
  taken from the values alone — never from outcomes) and ``clinical:<var>:missing``.

The columns are raw values: the training code standardises them with the
:class:`~memamba_core.data.genomics.GenomicScaler` it fits on each training fold
(a missing numeric value becomes the training mean). :func:`with_clinical_tokens`
returns a cohort whose genomic table and gene groups carry these columns, so every
genomics model (ME-Mamba's genomics path, SNN) reads them without a code change:

* ``mode="tokens"`` — the G gene groups and then V clinical groups (G + V tokens);
  patients are those with genomics (the same patients as the genomics-only model);
* ``mode="only"`` — the V clinical groups alone (same patients).

:func:`clinical_matrix` gives the same encoding as a (P, C_clin) array for a Cox model.

Example::

    cohort = load_cohort("stad.toml")
    both = with_clinical_tokens(cohort)            # G + V tokens
    X, columns = clinical_matrix(cohort, cohort.case_ids())
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .cohort import Cohort
from .genomics import GenomicMatrix
from .groups import GeneGroups

__all__ = ["DEFAULT_CLINICAL_VARIABLES", "ClinicalEncoding", "clinical_encoding", "clinical_matrix",
           "with_clinical_tokens", "TOKEN_MODES", "CLINICAL_PREFIX"]

DEFAULT_CLINICAL_VARIABLES = ("age", "is_female", "stage", "grade")  # used when present (the issue's list)
TOKEN_MODES = ("tokens", "only")  # gene groups + clinical groups | clinical groups alone
CLINICAL_PREFIX = "clinical:"


@dataclass(frozen=True)
class ClinicalEncoding:
    """How V clinical variables become columns: ``variables`` (V,), per variable its ``levels``
    (() for a numeric one) and its column names (``groups``: one GeneGroups group per variable)."""

    variables: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]
    groups: GeneGroups

    @property
    def columns(self) -> tuple[str, ...]:
        return self.groups.all_columns

    def encode(self, records: list[dict]) -> np.ndarray:
        """(P, C_clin) float32 raw values for P patients' ``Patient.clinical`` dicts (NaN: a missing number)."""
        cols = self.columns
        pos = {c: j for j, c in enumerate(cols)}
        X = np.zeros((len(records), len(cols)), dtype=np.float32)
        for i, rec in enumerate(records):
            for v, levels in zip(self.variables, self.levels):
                value = rec.get(v)
                missing = value is None or (isinstance(value, float) and not np.isfinite(value))
                X[i, pos[f"{CLINICAL_PREFIX}{v}:missing"]] = float(missing)
                if not levels:
                    X[i, pos[f"{CLINICAL_PREFIX}{v}"]] = np.nan if missing else float(value)
                elif not missing:
                    key = f"{CLINICAL_PREFIX}{v}={_level(value)}"
                    if key in pos:  # a level not seen when the encoding was made: all level columns 0
                        X[i, pos[key]] = 1.0
        return X


def _level(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _pick_variables(cohort: Cohort, variables) -> tuple[str, ...]:
    have = tuple(cohort.clinical_columns)
    if variables is None:
        chosen = tuple(v for v in DEFAULT_CLINICAL_VARIABLES if v in have)
        if not chosen:
            raise InputError(
                f"cohort '{cohort.name}' has none of the clinical variables {', '.join(DEFAULT_CLINICAL_VARIABLES)} "
                f"(its clinical columns: {', '.join(have) or 'none'}); add a clinical table (clinical = \"…\" in the "
                f"cohort file) or name the variables to use."
            )
        return chosen
    chosen = tuple(dict.fromkeys(str(v) for v in variables))
    lacking = [v for v in chosen if v not in have]
    if not chosen or lacking:
        raise InputError(
            f"cohort '{cohort.name}' has no clinical variable {', '.join(map(repr, lacking)) or '(none named)'}; "
            f"its clinical columns are {', '.join(have) or 'none'} — name some of these."
        )
    return chosen


def clinical_encoding(cohort: Cohort, variables=None) -> ClinicalEncoding:
    """The encoding of ``variables`` (default: :data:`DEFAULT_CLINICAL_VARIABLES` the cohort has).

    Levels come from every patient's values (covariates only, no outcome). A variable that no
    patient has is an InputError.
    """
    chosen = _pick_variables(cohort, variables)
    levels, columns = [], []
    for v in chosen:
        values = [p.clinical[v] for p in cohort.patients if p.clinical.get(v) is not None]
        if not values:
            raise InputError(f"cohort '{cohort.name}': no patient has a value of clinical variable {v!r}; leave it out.")
        if all(_is_number(x) for x in values):
            if not np.isfinite(np.asarray(values, dtype=np.float64)).all():
                raise InputError(f"cohort '{cohort.name}': clinical variable {v!r} has non-finite values; "
                                 "leave such cells empty for missing.")
            levels.append(())
            columns.append((f"{CLINICAL_PREFIX}{v}", f"{CLINICAL_PREFIX}{v}:missing"))
        else:
            lv = tuple(sorted({_level(x) for x in values}))
            levels.append(lv)
            columns.append(tuple(f"{CLINICAL_PREFIX}{v}={x}" for x in lv) + (f"{CLINICAL_PREFIX}{v}:missing",))
    groups = GeneGroups(tuple(f"{CLINICAL_PREFIX}{v}" for v in chosen), tuple(columns))
    return ClinicalEncoding(chosen, tuple(levels), groups)


def clinical_matrix(cohort: Cohort, case_ids, variables=None,
                    encoding: ClinicalEncoding | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """(P, C_clin) raw encoded clinical values for ``case_ids`` and the column names."""
    enc = encoding or clinical_encoding(cohort, variables)
    return enc.encode([cohort.patient(c).clinical for c in case_ids]), enc.columns


def with_clinical_tokens(cohort: Cohort, mode: str = "tokens", variables=None) -> Cohort:
    """A cohort whose gene groups carry the clinical variables as V extra tokens (see the module doc).

    The original cohort is not changed. Patients without genomics stay without (the same
    patients as the genomics-only model). Raises InputError: an unknown ``mode``, a cohort
    without genomics, variables it does not have.
    """
    if mode not in TOKEN_MODES:
        raise InputError(f"clinical tokens: mode={mode!r} is not one of {', '.join(TOKEN_MODES)}.")
    g = cohort._genomics
    if cohort.groups is None or g is None:
        raise InputError(f"cohort '{cohort.name}' has no genomics; clinical tokens ride on the genomics path "
                         "(give the cohort an RNA table and gene groups).")
    clash = [c for c in g.columns if c.startswith(CLINICAL_PREFIX)]
    if clash:
        raise InputError(f"cohort '{cohort.name}': genomic column {clash[0]!r} starts with {CLINICAL_PREFIX!r}, which "
                         "names clinical tokens; rename it.")
    enc = clinical_encoding(cohort, variables)
    clin = enc.encode([cohort.patient(c).clinical for c in g.case_ids])  # (P, C_clin), rows as the genomic table
    clin[~g.present] = np.nan  # no genomics → no token input at all (stays "without genomics")
    if mode == "tokens":
        values = np.concatenate([g.values, clin], axis=1)
        columns = g.columns + enc.columns
        groups = GeneGroups(cohort.groups.names + enc.groups.names, cohort.groups.columns + enc.groups.columns)
    else:
        values, columns, groups = clin, enc.columns, enc.groups
    matrix = GenomicMatrix(g.case_ids, columns, values.astype(np.float32))  # present: exactly the patients with genomics
    name = f"{cohort.name} + clinical" if mode == "tokens" else f"{cohort.name} (clinical only)"
    return dataclasses.replace(cohort, name=name, groups=groups, _genomics=matrix, issues=list(cohort.issues))
