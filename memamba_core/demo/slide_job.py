"""One slide of the demo cohort, end to end: paint → TIFF → tiling → features → truth.

Runs in a worker process (or in-process). Files of slide ``<sid>`` under the cohort root,
each written atomically, in this order (the last one marks the slide done):

* ``slides/<sid>.tif`` — the pyramidal slide;
* ``h5_files/<sid>.h5``, ``pt_files/<sid>.pt`` — features from the pixels, by the real pipeline
  (:func:`memamba_core.features.extract_slide` with the built-in encoder);
* ``truth/class_maps/<sid>.npy`` — (H/16, W/16) int8 class map of the slide (level-0 px 16·i..);
* ``truth/patch_fractions/<sid>.npy`` — (N, C) float16 area fraction of each class in each patch;
* ``truth/patch_classes/<sid>.npy`` — (N,) int8 majority tissue class of each patch (1..C-1; the
  background share is in ``patch_fractions``), rows aligned with the ``.h5`` ``coords``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..paths import atomic_write_bytes
from ..slides.tiling import TilingConfig
from .textures import CLASSES, HIGH_GRADE, TUMOUR

__all__ = ["slide_files", "slide_done", "slides_done", "build_slide", "slide_record", "TILING"]

TILING = TilingConfig()  # the default grid: 256 px at 0.5 µm/px, ≥ 50 % tissue
_BANK: dict[str, np.ndarray] = {}


def slide_files(root: Path, sid: str) -> list[Path]:
    """The files of one slide, in the order they are written."""
    return [
        root / "slides" / f"{sid}.tif", root / "h5_files" / f"{sid}.h5", root / "pt_files" / f"{sid}.pt",
        root / "truth" / "class_maps" / f"{sid}.npy", root / "truth" / "patch_fractions" / f"{sid}.npy",
        root / "truth" / "patch_classes" / f"{sid}.npy",
    ]


def slide_done(root: Path, sid: str) -> bool:
    return all(p.is_file() for p in slide_files(root, sid))


def slides_done(root: Path) -> int:
    """How many slides of the cohort folder ``root`` are finished (their last file, the patch classes, is written)."""
    folder = root / "truth" / "patch_classes"
    return sum(1 for f in folder.iterdir() if f.suffix == ".npy") if folder.is_dir() else 0


def _save_npy(path: Path, a: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


def slide_record(root: Path, sid: str) -> dict:
    """Summary of a finished slide from its truth files: patches, tumour and high-grade fractions, class areas."""
    cls = np.load(root / "truth" / "patch_classes" / f"{sid}.npy")
    frac = np.load(root / "truth" / "patch_fractions" / f"{sid}.npy").astype(np.float64)
    rec = {"slide_id": sid, "n_patches": int(cls.size),
           "tumour_fraction": float(np.mean(cls == TUMOUR)) if cls.size else 0.0,
           "high_grade_fraction": float(np.mean(cls == HIGH_GRADE)) if cls.size else 0.0}
    for c, name in enumerate(CLASSES[1:], start=1):
        rec[f"area_{name}"] = float(frac[:, c].mean()) if cls.size else 0.0
    return rec


def build_slide(root: str, spec_dict: dict, bank_path: str, quality: int) -> dict:
    """Make every file of one slide (see module doc) and return :func:`slide_record`."""
    from ..features.builtin import builtin_encoder
    from ..features.extract import extract_slide, write_features
    from ..slides.reader import available_backends, open_slide
    from .render import SlideSpec, make_layout, paint_level0, write_pyramid_tiff

    root_p = Path(root)
    spec = SlideSpec(**spec_dict)
    sid = spec.slide_id
    if slide_done(root_p, sid):
        return slide_record(root_p, sid)
    if bank_path not in _BANK:
        _BANK.clear()
        _BANK[bank_path] = np.load(bank_path, mmap_mode="r")
    class4 = make_layout(spec)
    img = paint_level0(spec, class4, np.asarray(_BANK[bank_path]))
    tif = root_p / "slides" / f"{sid}.tif"
    write_pyramid_tiff(tif, img, spec.mpp, quality=quality, description=f"ME-Mamba synthetic demo slide {sid}")
    del img
    enc = builtin_encoder()
    # TiffSlide decodes these tiles about twice as fast; both readers give the same pixels
    with open_slide(tif, backend="tiffslide" if "tiffslide" in available_backends() else "auto") as slide:
        feats, grid = extract_slide(slide, enc, TILING, batch_size=64)
    write_features(root_p, sid, feats, grid, enc)
    # truth: class fractions of each patch from the 1/4-resolution class map
    f = 4
    n_cls = len(CLASSES)
    fr = np.zeros((len(grid), n_cls), np.float32)
    s4 = grid.size0 // f
    for i, (x, y) in enumerate(grid.coords):
        block = class4[y // f: y // f + s4, x // f: x // f + s4]
        fr[i] = np.bincount(block.ravel(), minlength=n_cls)[:n_cls] / max(block.size, 1)
    _save_npy(root_p / "truth" / "class_maps" / f"{sid}.npy", class4[::4, ::4].copy())
    _save_npy(root_p / "truth" / "patch_fractions" / f"{sid}.npy", fr.astype(np.float16))
    # a kept patch is a tissue patch: its class is the majority among the tissue classes
    _save_npy(root_p / "truth" / "patch_classes" / f"{sid}.npy", (np.argmax(fr[:, 1:], 1) + 1).astype(np.int8))
    return slide_record(root_p, sid)
