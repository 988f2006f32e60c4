"""Patch-feature bags in the CLAM layout, read lazily and validated.

Per slide, either or both of

* ``pt_files/<slide>.pt`` — an (N, D_in) tensor (``torch.load(weights_only=True)`` only);
* ``h5_files/<slide>.h5`` — datasets ``features`` (N, D_in) and ``coords``
  (N, 2) level-0 (x, y), as CLAM, TRIDENT and ``memamba extract`` write them
  (:mod:`memamba_core.slides.clam_h5`); the patch geometry comes from the
  attributes, whichever writer's they are (:mod:`memamba_core.slides.geometry`).

Any feature width D_in loads (ResNet-50 1024, CTransPath 768, UNI 1024, UNI2
1536, CONCH 512, …); a cohort's slides must share one. A leading axis of 1
(``(1, N, D)``) is dropped. A ``.pt`` holds one tensor, or (TRIDENT's
``saveas='pt'``) one numpy array, read with ``weights_only=True`` and numpy's
array constructors as the only allowed globals.

``<slide>`` is the label CSV's ``slide_id`` with a slide extension
(``.svs``, ``.tif``, ``.ndpi``, …) stripped, or the ``slide_id`` as written.
The ``.h5`` is preferred when both exist (it has coordinates). A patient's
slides are concatenated in ``slide_ids`` order; ``slide_index`` says which
slide each patch came from, and row i of ``coords`` belongs to row i of
``features`` across the concatenation.

Every problem with a file — missing, unreadable, not a tensor, wrong width,
empty, NaN/inf, coords count ≠ features count — is an
:class:`~memamba_core.errors.InputError` naming the file and the fix.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError
from ..formats import SLIDE_EXTENSIONS
from ..paths import resolve_inside
from ..slides.clam_h5 import read_patch_h5
from ..slides.files import slide_stem
from ..slides.geometry import PatchGeometry, PerSlideGeometry

if TYPE_CHECKING:  # torch is imported where a bag is read (reading a cohort's tables needs no torch)
    import torch

__all__ = ["Bag", "BagCache", "SlideFiles", "SLIDE_EXTENSIONS", "slide_stem", "index_folder", "read_slide_features", "concat_slides"]

_FIX = "re-extract this slide's features (memamba extract) or remove the file"


def index_folder(folder: Path | None, suffix: str, root: Path) -> dict[str, Path]:
    """``{file name without suffix: path}`` for the files of ``folder`` ending in ``suffix``.

    Each file must resolve inside the cohort ``root`` (a symlink pointing out is an InputError).
    """
    if folder is None:
        return {}
    return {
        p.name[: -len(suffix)]: resolve_inside(root, p, what=f"feature file {p.name}")
        for p in folder.iterdir()
        if p.name.endswith(suffix) and not p.name.startswith(".")
    }


@dataclass
class Bag(PerSlideGeometry):
    """Pathology of one patient, slides concatenated.

    ``features`` (N, D_in) float32; ``coords`` (N, 2) int64 level-0 (x, y), or
    None when any slide only has a ``.pt``; ``slide_index`` (N,) int64 into
    ``slide_ids``; ``geometries``: one :class:`~memamba_core.slides.geometry.PatchGeometry`
    per slide, in ``slide_ids`` order — slides of one patient may differ (20× and
    40× scans, other patch levels), so draw and read each slide with its own
    (:func:`memamba_core.slides.slide_patches` does).
    """

    features: torch.Tensor
    coords: np.ndarray | None
    slide_index: np.ndarray
    slide_ids: tuple[str, ...]
    geometries: tuple[PatchGeometry, ...] = ()

    @property
    def n_patches(self) -> int:
        return int(self.features.shape[0])

    def _common(self, field_name: str) -> int | None:
        values = {getattr(self.geometry(i), field_name) for i in range(len(self.slide_ids))}
        if len(values) > 1:
            desc = ", ".join(f"{sid}: {getattr(self.geometry(i), field_name)}" for i, sid in enumerate(self.slide_ids))
            raise ValueError(
                f"the slides of this bag differ in {field_name} ({desc}); there is no single value — "
                f"use the geometry per slide, bag.geometry(i), or memamba_core.slides.slide_patches(bag, i, slide)."
            )
        return values.pop() if values else None

    @property
    def patch_size(self) -> int | None:
        """``patch_size`` shared by every slide (None when unknown); ValueError when the slides differ."""
        return self._common("patch_size")

    @property
    def patch_level(self) -> int | None:
        """``patch_level`` shared by every slide (None when unknown); ValueError when the slides differ."""
        return self._common("patch_level")

    def nbytes(self) -> int:
        n = self.features.element_size() * self.features.nelement() + self.slide_index.nbytes
        return n + (self.coords.nbytes if self.coords is not None else 0)


@dataclass(frozen=True)
class SlideFiles:
    """Feature files found for one slide (either may be None)."""

    slide_id: str
    h5: Path | None
    pt: Path | None

    @property
    def any(self) -> bool:
        return self.h5 is not None or self.pt is not None


@dataclass
class _SlideBag:
    features: torch.Tensor  # (N, D_in) float32
    coords: np.ndarray | None  # (N, 2) int64
    geometry: PatchGeometry


def _check_features(x: torch.Tensor, path: Path, feature_dim: int | None) -> torch.Tensor:
    import torch

    if x.ndim == 3 and x.shape[0] == 1:
        x = x[0]
    if x.numel() == 0:
        raise InputError(f"{path}: the bag is empty (0 patches); the slide may have no tissue — {_FIX}.")
    if x.ndim != 2:
        raise InputError(f"{path}: features have shape {tuple(x.shape)}, expected (N patches, D features); {_FIX}.")
    if not (x.is_floating_point() or x.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)):
        raise InputError(f"{path}: features have dtype {x.dtype}, expected floating point; {_FIX}.")
    if feature_dim is not None and x.shape[1] != feature_dim:
        raise InputError(
            f"{path}: features are {x.shape[1]} wide but the cohort's feature width is {feature_dim}; "
            f"all slides must be encoded with the same encoder — {_FIX} (or set feature_dim in cohort.toml)."
        )
    x = x.to(torch.float32)
    if not bool(torch.isfinite(x).all()):
        rows = torch.nonzero((~torch.isfinite(x)).any(dim=1)).flatten()
        raise InputError(
            f"{path}: features contain NaN or inf in {rows.numel()} of {x.shape[0]} patches "
            f"(first at patch row {int(rows[0])}); {_FIX}."
        )
    return x.contiguous()


def _numpy_globals() -> list:
    """What unpickling a plain numpy array needs (TRIDENT's ``.pt``): its constructor, ndarray, dtypes."""
    core = getattr(np, "_core", None) or np.core
    numeric = {type(np.dtype(code)) for code in "?bBhHiIlLqQefd"}  # bool, ints, floats; never object
    return [core.multiarray._reconstruct, np.ndarray, np.dtype, *numeric]


def _read_pt(path: Path, feature_dim: int | None) -> _SlideBag:
    import torch

    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError, RuntimeError (zip), EOFError, OSError
        raise InputError(f"{path}: cannot be read as a PyTorch tensor file ({type(err).__name__}: {err}); {_FIX}.") from err
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise InputError(f"{path}: holds a numpy array of dtype {obj.dtype}, expected numbers; {_FIX}.")
        obj = torch.from_numpy(np.ascontiguousarray(obj))
    if not isinstance(obj, torch.Tensor):
        raise InputError(
            f"{path}: holds a {type(obj).__name__}, not a tensor; a CLAM .pt file is one (N, D) feature tensor — {_FIX}."
        )
    return _SlideBag(_check_features(obj, path, feature_dim), None, PatchGeometry())


def _read_h5(path: Path, feature_dim: int | None) -> _SlideBag:
    import torch

    h5 = read_patch_h5(path, _FIX)
    if h5.features is None:
        raise InputError(
            f"{path}: no 'features' dataset (found: {', '.join(h5.datasets) or 'nothing'}); "
            f"a CLAM or TRIDENT feature .h5 holds 'features' (N, D) and 'coords' (N, 2) — {_FIX}."
        )
    feats = h5.features
    if not np.issubdtype(feats.dtype, np.number):
        raise InputError(f"{path}: 'features' has dtype {feats.dtype}, expected numbers; {_FIX}.")
    x = _check_features(torch.from_numpy(np.ascontiguousarray(feats)), path, feature_dim)
    coords = h5.coords
    if coords is not None:
        if coords.ndim != 2 or coords.shape[1] != 2:
            raise InputError(f"{path}: 'coords' has shape {coords.shape}, expected (N, 2) level-0 (x, y); {_FIX}.")
        if coords.shape[0] != x.shape[0]:
            raise InputError(
                f"{path}: 'coords' has {coords.shape[0]} rows but 'features' has {x.shape[0]}; "
                f"row i of coords must be the position of feature row i — {_FIX}."
            )
        if not np.issubdtype(coords.dtype, np.number) or not np.isfinite(coords).all():
            raise InputError(f"{path}: 'coords' contains NaN, inf or non-numbers; {_FIX}.")
        coords = coords.astype(np.int64)
    return _SlideBag(x, coords, PatchGeometry.from_attrs(h5.attrs, coords, where=str(path)))


def read_slide_features(files: SlideFiles, feature_dim: int | None) -> _SlideBag:
    """Read one slide's bag (h5 preferred), validated against ``feature_dim``."""
    for p in (files.h5, files.pt):
        if p is not None and not p.is_file():
            raise InputError(f"{p}: feature file missing (it existed when the cohort was loaded); restore it or reload the cohort.")
    if files.h5 is not None:
        return _read_h5(files.h5, feature_dim)
    if files.pt is not None:
        return _read_pt(files.pt, feature_dim)
    raise InputError(f"slide {files.slide_id}: no feature file (pt_files/<slide>.pt or h5_files/<slide>.h5).")


def concat_slides(slides: list[SlideFiles], feature_dim: int | None) -> Bag:
    """Read and concatenate the bags of one patient's slides (in order)."""
    import torch

    parts = [read_slide_features(s, feature_dim) for s in slides]
    widths = {p.features.shape[1] for p in parts}
    if len(widths) > 1:
        desc = ", ".join(f"{s.slide_id}: {p.features.shape[1]}" for s, p in zip(slides, parts))
        raise InputError(f"slides of one patient have different feature widths ({desc}); re-extract them with one encoder.")
    features = torch.cat([p.features for p in parts]) if len(parts) > 1 else parts[0].features
    index = np.concatenate([np.full(p.features.shape[0], i, dtype=np.int64) for i, p in enumerate(parts)])
    coords = np.concatenate([p.coords for p in parts]) if all(p.coords is not None for p in parts) else None
    return Bag(
        features=features,
        coords=coords,
        slide_index=index,
        slide_ids=tuple(s.slide_id for s in slides),
        geometries=tuple(p.geometry for p in parts),
    )


class BagCache:
    """A small thread-safe LRU of loaded bags, bounded by count and bytes."""

    def __init__(self, max_items: int = 8, max_bytes: int = 2 << 30):
        self.max_items, self.max_bytes = max_items, max_bytes
        self._d: OrderedDict[str, Bag] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> Bag | None:
        with self._lock:
            bag = self._d.get(key)
            if bag is not None:
                self._d.move_to_end(key)
            return bag

    def put(self, key: str, bag: Bag) -> None:
        size = bag.nbytes()
        with self._lock:
            if key in self._d:
                self._bytes -= self._d.pop(key).nbytes()
            if size > self.max_bytes or self.max_items <= 0:
                return
            self._d[key] = bag
            self._bytes += size
            while len(self._d) > self.max_items or self._bytes > self.max_bytes:
                _, old = self._d.popitem(last=False)
                self._bytes -= old.nbytes()

    def __getstate__(self) -> dict:
        """Pickled empty (e.g. into DataLoader workers): bounds only, no bags, a fresh lock."""
        return {"max_items": self.max_items, "max_bytes": self.max_bytes}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["max_items"], state["max_bytes"])

    def clear(self) -> None:
        with self._lock:
            self._d.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._d)
