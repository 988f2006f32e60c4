"""The ``.h5`` patch files of CLAM, TRIDENT and this project: the one reader and writer.

One file per slide:

* ``coords``: (N, 2) level-0 (x, y) top-left of each patch (int32 in CLAM, int64 here);
* ``features``: (N, D) float, row i from the patch at ``coords[i]`` (feature files only);
  some writers add a leading axis of 1, ``(1, N, D)`` / ``(1, N, 2)``, which readers drop.

Attributes (what each writer records is tabled in :mod:`memamba_core.slides.geometry`)
sit on the ``coords`` dataset (CLAM, TRIDENT), on ``features`` (TRIDENT: ``encoder``,
``name``) or on the file. :func:`read_patch_h5` merges them, ``coords`` winning over
``features`` over the file. TRIDENT writes ``None`` values as the string ``'None'``.

This project writes ``patch_size`` (= the read size, pixels at ``patch_level``),
``patch_level``, ``patch_size_level0``, ``output_patch_size``, ``mpp_level0``,
``target_mpp`` (plus ``encoder``, ``feature_dim``) on ``coords`` and on the file.
Files are written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ..errors import InputError
from ..paths import atomic_write

__all__ = ["PatchH5", "read_patch_h5", "write_clam_h5", "read_clam_h5"]


@dataclass(frozen=True)
class PatchH5:
    """The raw contents of one patch ``.h5``: arrays as stored (leading axis of 1 dropped), merged attributes."""

    features: np.ndarray | None   # (N, D) as stored, any dtype; None when absent
    coords: np.ndarray | None     # (N, 2) as stored; None when absent
    attrs: dict
    datasets: tuple[str, ...]     # top-level names in the file, for messages


def write_clam_h5(path: str | Path, coords: np.ndarray, attrs: dict, features: np.ndarray | None = None) -> None:
    """Write ``coords`` (N, 2) (and ``features`` (N, D)) to ``path`` atomically."""
    path = Path(path)
    coords = np.asarray(coords, dtype=np.int64).reshape(-1, 2)
    if features is not None:
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[0] != coords.shape[0]:
            raise ValueError(f"features {features.shape} do not match coords {coords.shape}")
    with atomic_write(path, "w+b") as fh, h5py.File(fh, "w") as f:
        if features is not None:
            f.create_dataset("features", data=features)
        ds = f.create_dataset("coords", data=coords)
        for k, v in attrs.items():
            ds.attrs[k] = v
            f.attrs[k] = v


def _squeeze_batch(a: np.ndarray) -> np.ndarray:
    return a[0] if a.ndim == 3 and a.shape[0] == 1 else a


def read_patch_h5(path: str | Path, fix: str) -> PatchH5:
    """Read a patch ``.h5`` (see module doc). ``fix`` ends the message of the :class:`InputError`
    raised for a file HDF5 cannot read (damaged, truncated, not HDF5)."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            names = tuple(f.keys())
            attrs = {k: _plain(v) for k, v in f.attrs.items()}
            arrays = {}
            for key in ("features", "coords"):
                if key in f:
                    if not isinstance(f[key], h5py.Dataset):
                        raise InputError(f"{path}: '{key}' is a group, not a dataset; {fix}.")
                    arrays[key] = _squeeze_batch(np.asarray(f[key][()]))
                    attrs.update({k: _plain(v) for k, v in f[key].attrs.items()})
    except InputError:
        raise
    except Exception as err:  # OSError for damaged files, KeyError/TypeError for odd layouts
        raise InputError(f"{path}: cannot be read as an HDF5 file ({type(err).__name__}: {err}); {fix}.") from err
    return PatchH5(arrays.get("features"), arrays.get("coords"), attrs, names)


def read_clam_h5(path: str | Path) -> tuple[np.ndarray | None, np.ndarray, dict]:
    """``(features (N, D) float32 or None, coords (N, 2) int64, attrs)`` of a patch ``.h5`` file."""
    fix = "re-create it (memamba extract)"
    h5 = read_patch_h5(path, fix)
    if h5.coords is None:
        raise InputError(f"{path}: no 'coords' dataset; a CLAM .h5 holds 'coords' (N, 2) level-0 (x, y) — {fix}.")
    feats = None if h5.features is None else np.asarray(h5.features, dtype=np.float32)
    return feats, np.asarray(h5.coords, dtype=np.int64), h5.attrs


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    return v
