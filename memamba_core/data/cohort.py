"""The loaded cohort: patients, their modalities, gene groups and splits.

Build one with :func:`memamba_core.data.load_cohort`. Tables are parsed once
at load time and kept here; bags are read lazily on :meth:`Cohort.load_bag`
through a small LRU cache (bags returned from the cache are shared: treat
them as read-only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import InputError
from ..paths import resolve_inside
from .bags import SLIDE_EXTENSIONS, Bag, BagCache, SlideFiles, concat_slides, slide_stem
from .config import CohortConfig
from .endpoints import DEFAULT_ENDPOINT, ENDPOINTS
from .genomics import GenomicMatrix, GenomicScaler
from .groups import GeneGroups, GroupsReport
from .labels import Patient
from .splits import Split
from .splits import make_folds as _make_folds
from .summary import CohortSummary
from .widths import probe_width

if TYPE_CHECKING:  # torch is imported where tensors are built (reading a cohort's tables needs no torch)
    import torch

__all__ = ["Cohort"]


@dataclass(eq=False)
class Cohort:
    """A cohort in one of the published layouts, loaded into typed objects.

    ``patients`` is one :class:`Patient` per ``case_id`` in label-CSV order,
    with the survival of the chosen ``endpoint`` (``"os"``, ``"dss"`` or
    ``"pfi"``; ``endpoints`` lists those the label table has); ``groups`` the
    G gene groups (None without genomics) and ``groups_report`` how their
    genes matched the data; ``splits`` the published splits (possibly empty);
    ``issues`` the non-fatal problems found while loading (missing
    modalities, patients left out, dropped groups, …).
    """

    root: Path
    name: str
    patients: list[Patient]
    groups: GeneGroups | None
    splits: list[Split]
    issues: list[str]
    config: CohortConfig = field(repr=False)
    endpoint: str = DEFAULT_ENDPOINT
    endpoints: tuple[str, ...] = (DEFAULT_ENDPOINT,)
    groups_report: GroupsReport | None = None
    clinical_columns: tuple[str, ...] = ()
    _genomics: GenomicMatrix | None = field(repr=False, default=None)
    _slides: dict[str, SlideFiles] = field(repr=False, default_factory=dict)
    _cache: BagCache = field(repr=False, default_factory=BagCache)

    def __post_init__(self):
        self._by_id = {p.case_id: p for p in self.patients}
        self._feature_dim: int | None = self.config.feature_dim
        self._feature_dim_probed = self._feature_dim is not None
        self._slide_images: dict[str, Path | InputError] | None = None
        self._clinical: pd.DataFrame | None = None
        self._token_index: dict = {}

    @property
    def endpoint_title(self) -> str:
        """The chosen endpoint for display, e.g. ``"disease-specific survival"``."""
        return ENDPOINTS[self.endpoint].title

    # ---- patients -------------------------------------------------------
    def case_ids(self) -> list[str]:
        """All case ids, cohort order."""
        return [p.case_id for p in self.patients]

    def patient(self, case_id: str) -> Patient:
        """The patient with ``case_id`` (InputError if unknown)."""
        try:
            return self._by_id[case_id]
        except KeyError:
            raise InputError(f"cohort '{self.name}': no patient with case_id {case_id!r}; pick one of its case ids.") from None

    def _check_ids(self, case_ids, what: str) -> list[str]:
        ids = list(case_ids)
        unknown = [c for c in ids if c not in self._by_id]
        if unknown:
            raise InputError(f"{what}: case {unknown[0]!r} ({len(unknown)} unknown in all) is not in cohort '{self.name}'.")
        return ids

    def clinical_frame(self) -> pd.DataFrame:
        """Patient table indexed by ``case_id``: survival_months, censorship, event,
        n_slides, has_pathology, has_genomics, then the clinical columns present."""
        if self._clinical is None:
            rows = []
            for p in self.patients:
                rows.append({
                    "case_id": p.case_id,
                    "survival_months": p.survival_months,
                    "censorship": p.censorship,
                    "event": p.event,
                    "n_slides": len(p.slide_ids),
                    "has_pathology": self.has_pathology(p.case_id),
                    "has_genomics": self.has_genomics(p.case_id),
                    **p.clinical,
                })
            self._clinical = pd.DataFrame(rows).set_index("case_id")
        return self._clinical.copy()

    # ---- modalities -----------------------------------------------------
    def slide_files(self, case_id: str) -> list[SlideFiles]:
        """The patient's slides that have a feature file, in slide order."""
        return [s for s in (self._slides.get(x) for x in self.patient(case_id).slide_ids) if s is not None and s.any]

    def has_pathology(self, case_id: str) -> bool:
        """True when at least one of the patient's slides has a feature file."""
        return bool(self.slide_files(case_id))

    def has_genomics(self, case_id: str) -> bool:
        """True when the cohort has gene groups and the patient has any genomic value."""
        self.patient(case_id)
        g = self._genomics
        return self.groups is not None and g is not None and bool(g.present[g._row[case_id]])

    def feature_dim(self) -> int | None:
        """D_in: ``feature_dim`` from the cohort file, else the most common width of the feature
        files (see :mod:`memamba_core.data.widths`); None without pathology."""
        if not self._feature_dim_probed:
            self.probe_feature_dim()
        return self._feature_dim

    def probe_feature_dim(self) -> None:
        """Infer D_in from the feature files now (the loader calls it), adding any disagreement to ``issues``."""
        self._feature_dim_probed = True
        files = [f.h5 or f.pt for f in self._slides.values() if f.any]
        probe = probe_width(files)
        self._feature_dim = probe.width
        self.issues.extend(probe.issues)

    def load_bag(self, case_id: str) -> Bag | None:
        """The patient's validated bag, slides concatenated; None without pathology.

        Raises InputError naming the file for a bad feature file.
        """
        files = self.slide_files(case_id)
        if not files:
            return None
        bag = self._cache.get(case_id)
        if bag is None:
            bag = concat_slides(files, self.feature_dim())
            self._cache.put(case_id, bag)
        return bag

    def check_bags(self, progress=None) -> dict[str, str]:
        """Read every patient's bag once (bypassing the cache); ``{case_id: error message}``
        for the bags that fail validation. ``progress(i, n)`` is called after each patient."""
        ids = [c for c in self.case_ids() if self.has_pathology(c)]
        problems = {}
        for i, c in enumerate(ids):
            try:
                concat_slides(self.slide_files(c), self.feature_dim())
            except InputError as err:
                problems[c] = str(err)
            if progress is not None:
                progress(i + 1, len(ids))
        return problems

    def slide_path(self, slide_id: str) -> Path | None:
        """The whole-slide image for ``slide_id`` in ``slides/`` (any known extension), or None.

        A slide file that resolves outside the cohort (a symlink pointing out) is refused with an
        InputError for that slide only; the other slides stay available.
        """
        if self._slide_images is None:
            self._slide_images = self._index_slide_images()
        hit = self._slide_images.get(slide_id) or self._slide_images.get(slide_stem(slide_id))
        if isinstance(hit, InputError):
            raise InputError(str(hit))
        return hit

    def _index_slide_images(self) -> dict[str, Path | InputError]:
        out: dict[str, Path | InputError] = {}
        folder = self.config.slides_dir
        if folder is None:
            return out
        try:
            entries = sorted(folder.iterdir())
        except OSError as err:
            self.issues.append(f"{folder}: the slides folder cannot be listed ({err}); slide images unavailable.")
            return out
        for p in entries:
            if not p.name.lower().endswith(SLIDE_EXTENSIONS):
                continue
            try:
                full: Path | InputError = resolve_inside(self.root, p, what=f"slide file {p.name}")
            except InputError as err:
                full = err
            for key in (p.name, slide_stem(p.name)):
                if key not in out or isinstance(out[key], InputError):
                    out[key] = full
        return out

    # ---- genomics -------------------------------------------------------
    @property
    def genomic_columns(self) -> tuple[str, ...]:
        """The C genomic columns used by the groups (their union, in group order)."""
        return self.groups.all_columns if self.groups is not None else ()

    def genomic_matrix(self, case_ids=None, scaler: GenomicScaler | None = None) -> np.ndarray:
        """(P, C) values for ``case_ids`` (default all) × :attr:`genomic_columns`.

        Raw with NaN for missing when ``scaler`` is None; standardised with
        NaN → 0 when a scaler is given (its columns must be these columns).
        """
        ids = self.case_ids() if case_ids is None else self._check_ids(case_ids, "genomic_matrix")
        if self._genomics is None:
            return np.zeros((len(ids), 0), dtype=np.float32)
        X = self._genomics.values[self._genomics.rows(ids)]
        if scaler is None:
            return X.copy()
        if tuple(scaler.columns) != self._genomics.columns:
            raise ValueError("scaler columns differ from this cohort's genomic columns; use genomic_tokens with groups")
        return scaler.transform(X)

    def fit_scaler(self, train_ids) -> GenomicScaler:
        """Fit a :class:`GenomicScaler` on the training patients that have genomics.

        A column with no finite training value gets mean 0, std 1 (see
        :mod:`memamba_core.data.genomics` for the NaN rule).
        """
        ids = self._check_ids(train_ids, "fit_scaler")
        cols = self.genomic_columns
        if self._genomics is None:
            return GenomicScaler(cols)
        ids = [c for c in ids if self.has_genomics(c)]
        return GenomicScaler().fit(self._genomics.values[self._genomics.rows(ids)].reshape(len(ids), len(cols)), cols)

    def _token_plan(self, scaler: GenomicScaler | None, groups: GeneGroups):
        key = (id(scaler), id(groups))
        plan = self._token_index.get(key)
        if plan is None or plan[0] is not scaler or plan[1] is not groups:
            g = self._genomics
            cols = scaler.columns if scaler is not None else groups.all_columns
            src = np.array([g._col.get(c, -1) for c in cols], dtype=np.int64)
            pos = {c: i for i, c in enumerate(cols)}
            missing = [c for cs in groups.columns for c in cs if c not in pos]
            if missing:
                raise ValueError(f"scaler lacks {len(missing)} group column(s), e.g. {missing[0]}")
            flat = np.array([pos[c] for cs in groups.columns for c in cs], dtype=np.int64)
            plan = (scaler, groups, src, (flat, list(groups.sizes)))
            if len(self._token_index) >= 8:
                self._token_index.clear()
            self._token_index[key] = plan
        return plan[2], plan[3]

    def genomic_tokens(self, case_id: str, scaler: GenomicScaler | None, groups: GeneGroups | None = None) -> list[torch.Tensor] | None:
        """G float32 tensors (size_g,) for the patient; None without genomics.

        Values are standardised with ``scaler`` (NaN → 0), or raw with NaN → 0
        when ``scaler`` is None. ``groups`` defaults to the cohort's; a
        checkpoint's groups may be given instead — their columns this cohort
        lacks count as missing (0 after scaling).
        """
        if not self.has_genomics(case_id):
            return None
        groups = self.groups if groups is None else groups
        src, (flat, sizes) = self._token_plan(scaler, groups)
        row = self._genomics.values[self._genomics._row[case_id]]
        raw = np.where(src >= 0, row[np.maximum(src, 0)], np.nan)
        z = scaler.transform(raw) if scaler is not None else np.nan_to_num(raw, nan=0.0).astype(np.float32)
        import torch

        # one gather in group order, then G contiguous views: (sum size_g,) -> G x (size_g,)
        return list(torch.from_numpy(np.ascontiguousarray(z[flat])).split(sizes))

    # ---- splits and summary --------------------------------------------
    def make_folds(self, k: int = 5, seed: int = 0) -> list[Split]:
        """k patient-level folds stratified by event, deterministic in ``seed``."""
        return _make_folds(self.case_ids(), np.array([p.event for p in self.patients]), k, seed)

    def summary(self) -> CohortSummary:
        """Counts for display (see :class:`CohortSummary`)."""
        n = len(self.patients)
        path = np.array([self.has_pathology(c) for c in self.case_ids()], dtype=bool)
        gen = np.array([self.has_genomics(c) for c in self.case_ids()], dtype=bool)
        cens = np.array([p.censorship for p in self.patients])
        return CohortSummary(
            name=self.name,
            root=str(self.root),
            n_patients=n,
            n_slides=sum(len(p.slide_ids) for p in self.patients),
            n_events=int((cens == 0).sum()),
            censored_fraction=float(cens.mean()) if n else 0.0,
            median_follow_up_months=float(np.median([p.survival_months for p in self.patients])) if n else 0.0,
            modalities={
                "pathology": int(path.sum()),
                "genomics": int(gen.sum()),
                "both": int((path & gen).sum()),
                "neither": int((~path & ~gen).sum()),
            },
            group_names=self.groups.names if self.groups else (),
            token_sizes=self.groups.sizes if self.groups else (),
            feature_dim=self.feature_dim() if path.any() else None,
            n_splits=len(self.splits),
            issues=tuple(self.issues),
            endpoint=self.endpoint,
            endpoints=self.endpoints,
            layout=self.config.layout,
            clinical_columns=self.clinical_columns,
            gene_overlap=self.groups_report.line() if self.groups_report is not None else "",
        )

    def __repr__(self) -> str:
        return f"Cohort(name={self.name!r}, patients={len(self.patients)}, root={str(self.root)!r})"
