"""Patch features of whole slides, written in CLAM's layout.

For each slide: tissue mask → patch grid (:mod:`memamba_core.slides.tiling`) →
batches of patches → encoder → ``(N, D)`` features, written to

* ``<out>/h5_files/<slide_id>.h5`` — ``features`` (N, D) float32, ``coords`` (N, 2) int64 level-0
  (x, y) with CLAM attributes ``patch_size`` / ``patch_level`` (and ``encoder``, ``feature_dim``);
* ``<out>/pt_files/<slide_id>.pt`` — the same features as a (N, D) float32 tensor.

Both are written atomically, ``.h5`` first; a slide whose two files exist and whose ``.h5``
names the same encoder is done, so an interrupted run resumes where it stopped. Under
torchrun the slides are sharded over the ranks (:func:`extract_folder`), one writer per slide.
``slide_id`` is the file name without its slide extension.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

from ..dist import Dist
from ..errors import InputError
from ..outputs import check_output_folder
from ..paths import atomic_write
from ..sharding import Outcome, run_sharded
from ..slides.clam_h5 import read_clam_h5, write_clam_h5
from ..slides.patches import iter_patch_batches
from ..slides.reader import SLIDE_EXTENSIONS, Slide, open_slide
from ..slides.tiling import PatchGrid, TilingConfig, patch_grid
from .encoder import Encoder

__all__ = [
    "Progress", "ExtractionReport", "slide_id_of", "list_slides", "extract_slide", "write_features",
    "is_done", "extract_folder",
]

_H5_DIR, _PT_DIR = "h5_files", "pt_files"
Progress = Callable[[float, str], None]  # progress(fraction in [0, 1], message)


def slide_id_of(path: str | Path) -> str:
    """File name without its slide extension: ``"a/TCGA-X.svs"`` → ``"TCGA-X"``."""
    name = Path(path).name
    low = name.lower()
    for ext in SLIDE_EXTENSIONS:
        if low.endswith(ext):
            return name[: -len(ext)]
    return Path(name).stem


def list_slides(folder: str | Path) -> list[Path]:
    """Slide files (known extensions) directly in ``folder``, sorted by name."""
    f = Path(folder).expanduser()
    if not f.is_dir():
        raise InputError(f"{f}: no such folder of slides; give the folder that holds the .svs/.tif/... files.")
    return sorted(p for p in f.iterdir() if p.is_file() and p.name.lower().endswith(SLIDE_EXTENSIONS))


def extract_slide(
    slide: Slide, encoder: Encoder, tiling: TilingConfig = TilingConfig(), batch_size: int = 64,
    progress: Progress | None = None, grid: PatchGrid | None = None,
) -> tuple[np.ndarray, PatchGrid]:
    """Features (N, D) float32 of the tissue patches of an open slide, and their grid (row i ↔ ``grid.coords[i]``)."""
    if grid is None:
        grid = patch_grid(slide, tiling)
    feats = np.zeros((len(grid), encoder.output_dim), np.float32)
    n = len(grid)
    for idx, batch in iter_patch_batches(slide, grid, batch_size):
        feats[idx] = encoder(batch).numpy()
        if progress is not None:
            progress(float(idx[-1] + 1) / max(n, 1), f"{slide.path.name}: {idx[-1] + 1}/{n} patches")
    return feats, grid


def write_features(out_dir: str | Path, slide_id: str, features: np.ndarray, grid: PatchGrid, encoder: Encoder) -> None:
    """Write ``h5_files/<slide_id>.h5`` then ``pt_files/<slide_id>.pt`` under ``out_dir`` (atomically)."""
    out = Path(out_dir)
    attrs = {**grid.h5_attrs(), "encoder": encoder.name, "feature_dim": int(encoder.output_dim)}
    write_clam_h5(out / _H5_DIR / f"{slide_id}.h5", grid.coords, attrs, features)
    with atomic_write(out / _PT_DIR / f"{slide_id}.pt", "wb") as fh:
        torch.save(torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)), fh)


def is_done(out_dir: str | Path, slide_id: str, encoder: Encoder) -> bool:
    """True when both files of ``slide_id`` exist and the ``.h5`` was written by ``encoder``."""
    out = Path(out_dir)
    h5, pt = out / _H5_DIR / f"{slide_id}.h5", out / _PT_DIR / f"{slide_id}.pt"
    if not (h5.is_file() and pt.is_file()):
        return False
    try:
        _, _, attrs = read_clam_h5(h5)
    except InputError:
        return False
    return attrs.get("encoder") == encoder.name and attrs.get("feature_dim") == encoder.output_dim


@dataclass
class ExtractionReport:
    """What :func:`extract_folder` did: slide ids extracted, skipped (already done), failed (id → reason),
    patches per extracted slide, and per rank (torchrun) ``{"rank", "items", "done", "failed", "units", "seconds"}``."""

    out_dir: Path
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    n_patches: dict[str, int] = field(default_factory=dict)
    ranks: list[dict] = field(default_factory=list)


def _slide_paths(slides: str | Path | Iterable[str | Path]) -> tuple[list[Path], list[str]]:
    """(slide files, their slide ids) of a folder or a list of files; InputError on an empty folder or a repeated id."""
    if isinstance(slides, (str, Path)):
        paths = list_slides(slides)
        if not paths:
            raise InputError(f"{slides}: holds no slide files ({', '.join(SLIDE_EXTENSIONS)}).")
    else:
        paths = [Path(p).expanduser() for p in slides]
    ids = [slide_id_of(p) for p in paths]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise InputError(f"slides {', '.join(dup)} appear twice (same name, different extension or folder); rename one.")
    return paths, ids


def _check_out(out_dir: str | Path, paths: list[Path]) -> None:
    """The output cohort folder may hold the slides' folder (the usual layout) but not lie inside it, and no
    slide may sit in a folder the features are written to (:mod:`memamba_core.outputs`)."""
    reads = [*dict.fromkeys(p.expanduser().resolve().parent for p in paths), *paths]
    check_output_folder(out_dir, reads=reads, may_contain_inputs=True)
    for sub in (_H5_DIR, _PT_DIR):
        check_output_folder(Path(out_dir) / sub, reads=reads)


def extract_folder(
    slides: str | Path | Iterable[str | Path], out_dir: str | Path, encoder: Encoder, *,
    tiling: TilingConfig = TilingConfig(), batch_size: int = 64, progress: Progress | None = None,
    overwrite: bool = False, backend: str = "auto", dist: Dist | None = None,
) -> ExtractionReport:
    """Extract features of every slide in a folder (or a list of slide files) into ``out_dir``.

    Slides already done (:func:`is_done`) are skipped unless ``overwrite``. A slide that cannot be
    read, or has no tissue patch, is recorded in ``report.failed`` and the run goes on.
    ``progress(fraction, message)`` is called as patches are encoded (on rank 0 under torchrun,
    with the slides finished per rank as the message).

    Under torchrun (``dist`` from :func:`memamba_core.dist.init_distributed`) the slides are
    sharded over the ranks by :func:`memamba_core.sharding.run_sharded` (balanced by file size,
    deterministic): each slide is encoded and written by exactly one rank, and every rank returns
    the same report. The encoder computes the same features whichever rank runs a slide, so the
    files equal a one-process run's (same encoder device and thread count: byte for byte).
    """
    paths, ids = _slide_paths(slides)
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}.")
    _check_out(out_dir, paths)
    by_id = dict(zip(ids, paths))

    def work(sid: str, tick) -> Outcome:
        path = by_id[sid]
        try:
            with open_slide(path, backend=backend) as slide:
                feats, grid = extract_slide(slide, encoder, tiling, batch_size, tick)
        except InputError as err:
            return Outcome(False, detail=str(err))
        if len(grid) == 0:
            return Outcome(False, detail=f"{path}: no tissue patch found (mask threshold {grid.mask.threshold:.0f}); nothing written.")
        write_features(out_dir, sid, feats, grid, encoder)
        return Outcome(True, units=len(grid))

    show = None if progress is None else (lambda p: progress(p.fraction, p.message))
    done = None if overwrite else (lambda sid: is_done(out_dir, sid, encoder))
    sizes = [p.stat().st_size if p.is_file() else 0 for p in paths]
    rep = run_sharded(ids, work, dist=dist, done=done, cost=sizes, progress=show)
    return ExtractionReport(out_dir=Path(out_dir), done=rep.done, skipped=rep.skipped, failed=rep.failed,
                            n_patches=rep.units, ranks=rep.ranks)
