"""Hostile and careless slides (issue 14): each gets a clear InputError where the viewer opens or reads it,
and one bad slide never hides another; patch coordinates off the slide are reported, not drawn as nothing."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from PIL import Image

from memamba_core.data import load_cohort
from memamba_core.demo.render import write_pyramid_tiff
from memamba_core.errors import InputError
from memamba_core.slides import (
    available_backends, cohort_slide_file, open_cohort_slide, read_patch, slide_patches,
)
from tests._cohort_fixtures import make_clam_cohort

GOOD = "CASE-000-DX1.svs"


def _image(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) % 256], -1).astype(np.uint8)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A cohort whose slides folder holds one good slide and one of each kind of bad file."""
    base = tmp_path_factory.mktemp("hostile")
    root = make_clam_cohort(base, n_patients=5, with_pt=False)
    slides = root / "slides"
    slides.mkdir()
    write_pyramid_tiff(slides / "CASE-000-DX1.tif", _image(1024, 1536), mpp=0.5, min_side=128)
    data = (slides / "CASE-000-DX1.tif").read_bytes()
    (slides / "CASE-000-DX2.tif").write_bytes(data[: len(data) // 2])                  # truncated copy
    (slides / "CASE-001-DX1.tif").write_text("case notes, not an image\n" * 40)       # text named .tif
    outside = base / "elsewhere.tif"
    write_pyramid_tiff(outside, _image(512, 512), mpp=0.5, min_side=128)
    (slides / "CASE-002-DX1.tif").symlink_to(outside)                                 # a link leaving the cohort
    Image.fromarray(_image(64, 64)).save(slides / "CASE-003-DX1.svs", format="PNG")   # a format no reader opens
    return load_cohort(root)


BAD = {
    "CASE-000-DX2.svs": r"CASE-000-DX2.tif.*(truncated|corrupt|copied again)",
    "CASE-001-DX1.svs": r"CASE-001-DX1.tif: not a readable whole-slide image.*OpenSlide or TiffSlide",
    "CASE-002-DX1.svs": r"slide file CASE-002-DX1.tif.*outside the cohort folder.*keep every file",
    "CASE-003-DX1.svs": r"CASE-003-DX1.svs: not a readable whole-slide image",
}


def _open_and_read(cohort, slide_id):
    """What a viewer does: open, thumbnail, one full-resolution patch."""
    with open_cohort_slide(cohort, slide_id) as s:
        s.thumbnail(256)
        return np.asarray(read_patch(s, (0, 0), 256))


@pytest.mark.parametrize("slide_id", sorted(BAD))
def test_each_bad_slide_is_a_clear_error_and_hides_no_other(hostile, slide_id):
    assert _open_and_read(hostile, GOOD).shape == (256, 256, 3)
    for _ in range(2):  # asked again, the same error: nothing was cached
        with pytest.raises(InputError, match=BAD[slide_id]):
            _open_and_read(hostile, slide_id)
    assert _open_and_read(hostile, GOOD).shape == (256, 256, 3)


def test_bad_slides_in_any_order_leave_the_good_one_readable(hostile):
    for slide_id in [*sorted(BAD), *sorted(BAD, reverse=True)]:
        with pytest.raises(InputError):
            _open_and_read(hostile, slide_id)
        assert _open_and_read(hostile, GOOD).shape == (256, 256, 3)


def test_only_the_cohorts_slides_are_served(hostile):
    with pytest.raises(InputError, match=r"'../elsewhere.tif' is not a slide of its patients"):
        open_cohort_slide(hostile, "../elsewhere.tif")
    with pytest.raises(InputError, match="not a slide of its patients"):
        cohort_slide_file(hostile, "OTHER-DX1.svs")
    assert open_cohort_slide(hostile, "CASE-004-DX1.svs") is None   # a patient without an image: nothing to open


def test_slide_file_found_by_name_or_stem(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=2, with_pt=False)
    (root / "slides").mkdir(exist_ok=True)
    for name in ("CASE-000-DX1.SVS", "CASE-000-DX1.tif", "CASE-001-DX1.svs.txt"):
        (root / "slides" / name).write_bytes(b"x")
    cohort = load_cohort(root)
    assert cohort_slide_file(cohort, "CASE-000-DX1.svs").name == "CASE-000-DX1.SVS"   # stem match, first by name
    assert cohort_slide_file(cohort, "CASE-001-DX1.svs") is None                      # .svs.txt is no slide


def _rewrite_coords(cohort, stem: str, coords: np.ndarray) -> None:
    path = cohort.root / "h5_files" / f"{stem}.h5"
    with h5py.File(path, "r+") as f:
        n = f["features"].shape[0]
        del f["coords"]
        ds = f.create_dataset("coords", data=coords[:n])
        ds.attrs["patch_size"], ds.attrs["patch_level"] = 256, 0


@pytest.mark.parametrize("backend", available_backends())
def test_patches_off_the_slide_are_reported_not_drawn(tmp_path, backend):
    root = make_clam_cohort(tmp_path, n_patients=3, with_pt=False)
    (root / "slides").mkdir()
    write_pyramid_tiff(root / "slides" / "CASE-001-DX1.tif", _image(1024, 1536), mpp=0.5, min_side=128)
    cohort = load_cohort(root)
    n = cohort.load_bag("CASE-001").n_patches
    coords = np.array([[0, 0], [256, 0], [1536, 0], [0, 1024], [-300, 5]] + [[512, 512]] * (n - 5), np.int64)
    _rewrite_coords(cohort, "CASE-001-DX1", coords)
    cohort = load_cohort(root)
    bag = cohort.load_bag("CASE-001")
    with open_cohort_slide(cohort, "CASE-001-DX1.svs", backend=backend) as s:
        sp = slide_patches(bag, 0, s)
    assert sp.outside.tolist() == [2, 3, 4] and 2 not in sp.index and len(sp) == n - 3
    assert any("CASE-001-DX1.svs" in note and f"3 of {n} patches lie outside the slide (1536 × 1024" in note
               for note in sp.notes)
    _rewrite_coords(cohort, "CASE-001-DX1", coords + 100_000)       # every patch off the slide
    cohort = load_cohort(root)
    with open_cohort_slide(cohort, "CASE-001-DX1.svs", backend=backend) as s:
        with pytest.raises(InputError, match=rf"CASE-001-DX1.svs .*all {n} patch coordinates lie outside the slide"):
            slide_patches(cohort.load_bag("CASE-001"), 0, s)


def test_features_made_from_another_scan_are_noted(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=3, with_pt=False)
    (root / "slides").mkdir()
    write_pyramid_tiff(root / "slides" / "CASE-000-DX1.tif", _image(1024, 1536), mpp=0.5, min_side=128)
    with h5py.File(root / "h5_files" / "CASE-000-DX1.h5", "r+") as f:
        f["coords"].attrs.update({"patch_size_level0": 256, "level0_width": 3000, "level0_height": 2000})
    cohort = load_cohort(root)
    with open_cohort_slide(cohort, "CASE-000-DX1.svs") as s:
        notes = slide_patches(cohort.load_bag("CASE-000"), 0, s).notes
    assert any("cut from a slide of 3000 × 2000 px, this file is 1536 × 1024 px" in n for n in notes)
