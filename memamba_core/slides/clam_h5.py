"""CLAM's ``.h5`` layout for patch coordinates and features.

One file per slide:

* ``coords``: (N, 2) int64, level-0 (x, y) top-left of each patch, with attributes
  ``patch_size`` (pixels at ``patch_level``) and ``patch_level`` (CLAM), plus ours
  (``patch_size_level0``, ``output_patch_size``, ``mpp_level0``, ``target_mpp``);
* ``features``: (N, D) float32, row i from the patch at ``coords[i]`` (feature files only).

The same attributes are also set on the file itself, so readers that look there find them.
Files are written atomically.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from ..errors import InputError
from ..paths import atomic_write

__all__ = ["write_clam_h5", "read_clam_h5"]


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


def read_clam_h5(path: str | Path) -> tuple[np.ndarray | None, np.ndarray, dict]:
    """``(features (N, D) float32 or None, coords (N, 2) int64, attrs)`` of a CLAM ``.h5`` file."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            if "coords" not in f:
                raise InputError(f"{path}: no 'coords' dataset; a CLAM .h5 holds 'coords' (N, 2) level-0 (x, y).")
            ds = f["coords"]
            coords = np.asarray(ds[()], dtype=np.int64)
            attrs = {**{k: _plain(v) for k, v in f.attrs.items()}, **{k: _plain(v) for k, v in ds.attrs.items()}}
            feats = np.asarray(f["features"][()], dtype=np.float32) if "features" in f else None
    except OSError as err:
        raise InputError(f"{path}: not a readable HDF5 file ({err}); re-create it (memamba extract).") from err
    return feats, coords, attrs


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, bytes):
        return v.decode()
    return v
