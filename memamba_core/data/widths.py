"""The cohort's patch-feature width D_in, inferred from its feature files without configuration.

Encoders people use write 512 (CONCH), 768 (CTransPath), 1024 (ResNet50
trunc., UNI) or 1536 (UNI2) features per patch; nothing needs configuring.
The width is the **most common** width among the feature files (up to
:data:`MAX_PROBED` of them, spread evenly over the slides), read from file
headers only: the ``features`` dataset's shape of an ``.h5`` (an
``(1, N, D)`` leading batch axis is allowed), a memory-mapped ``.pt`` (no
tensor data is read). One file of another width therefore cannot make the
correct files look wrong: the odd files are named in an issue line and
refused when their bag is read. A tie between widths is reported too; set
``feature_dim`` in the cohort file to decide.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["WidthProbe", "probe_width", "MAX_PROBED"]

MAX_PROBED = 64


@dataclass(frozen=True)
class WidthProbe:
    """Result of :func:`probe_width`: ``width`` (None when no file could be probed), the width of
    every probed file (``{path: D}``) and the issue lines to show."""

    width: int | None
    widths: dict[Path, int] = field(default_factory=dict)
    issues: tuple[str, ...] = ()


def _h5_width(path: Path) -> int | None:
    import h5py

    with h5py.File(path, "r") as f:
        shape = f["features"].shape
    if len(shape) == 3 and shape[0] == 1:
        shape = shape[1:]
    return int(shape[-1]) if len(shape) == 2 and shape[-1] > 0 else None


def _pt_width(path: Path) -> int | None:
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:  # a legacy (non-zip) file cannot be memory-mapped: read it whole
        obj = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(obj, torch.Tensor):
        return None
    shape = tuple(obj.shape)
    if len(shape) == 3 and shape[0] == 1:
        shape = shape[1:]
    return int(shape[-1]) if len(shape) == 2 and shape[-1] > 0 else None


def file_width(path: Path) -> int | None:
    """D of one feature file from its header, or None when it cannot be read as one (reported when its bag is loaded)."""
    try:
        return _h5_width(path) if path.suffix == ".h5" else _pt_width(path)
    except Exception:  # damaged / foreign file: the bag reader names it with the fix when it is loaded
        return None


def probe_width(files: list[Path], max_probed: int = MAX_PROBED) -> WidthProbe:
    """The most common width among (an even sample of) ``files``; see the module doc."""
    if not files:
        return WidthProbe(None)
    step = max(1, -(-len(files) // max_probed))
    sample = files[::step][:max_probed]
    widths = {p: w for p in sample if (w := file_width(p)) is not None}
    if not widths:
        return WidthProbe(None)
    counts = Counter(widths.values()).most_common()
    width, n = counts[0]
    issues = []
    if len(counts) > 1:
        odd = [p for p, w in widths.items() if w != width]
        tie = " (a tie: set feature_dim in the cohort file to choose)" if counts[1][1] == n else ""
        others = ", ".join(f"{w} ({k} file(s))" for w, k in counts[1:4])
        issues.append(
            f"feature files disagree on the feature width: {n} of {len(widths)} probed are {width} wide{tie}, "
            f"others {others}, e.g. {odd[0]}; the cohort's width is {width} — those files are refused when read: "
            f"re-extract them with the cohort's encoder."
        )
    return WidthProbe(width, widths, tuple(issues))
