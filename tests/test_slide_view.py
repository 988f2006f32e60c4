"""The slide view on a real two-slide cohort: each slide is drawn and read with its own patch geometry.

The cohort is built here: patient CASE-000 has two pyramidal TIFFs (written like the demo's)
— DX1 at 0.5 µm/px with 256-px patches cut at level 0, DX2 at 0.25 µm/px ("40×") with
256-px patches cut at level 1, i.e. 512 level-0 px — and an ``.h5`` per slide with the
coordinates. DX2's file is written in three layouts: CLAM (``patch_size`` / ``patch_level``),
TRIDENT (``patch_size_level0``, magnifications, level-0 size) and CLAM's feature files as
``extract_features_fp.py`` writes them (no attributes at all). A known four-colour square is
painted on DX2 where one patch lies; the patch read and the overlay box must land on it.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from memamba_core.data import load_cohort
from memamba_core.demo.render import write_pyramid_tiff
from memamba_core.errors import InputError
from memamba_core.slides import available_backends, open_cohort_slide, read_patch, slide_patches, thumbnail_scale
from memamba_core.viz import heatmap_figure, overlay_rgba
from tests._cohort_fixtures import make_clam_cohort

GREY = (225, 225, 225)
QUADRANTS = ((200, 30, 30), (30, 160, 40), (40, 40, 200), (220, 200, 30))  # top-left, top-right, bottom-left, bottom-right
SQUARE = (1024, 512)           # DX2: level-0 (x, y) of the painted patch
SIDE2 = 512                    # DX2: patch side in level-0 px (256 px at level 1)
MARK1 = (256, 256)             # DX1: level-0 (x, y) of a patch painted solid blue


def _grid(nx: int, ny: int, step: int) -> np.ndarray:
    gy, gx = np.mgrid[0:ny, 0:nx]
    return np.stack([gx.ravel() * step, gy.ravel() * step], 1).astype(np.int64)


def _write_h5(path, coords, attrs: dict, feature_dim: int = 8, coords_dtype=np.int64) -> None:
    feats = np.random.default_rng(len(coords)).normal(size=(len(coords), feature_dim)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f.create_dataset("features", data=feats)
        ds = f.create_dataset("coords", data=coords.astype(coords_dtype))
        for k, v in attrs.items():
            ds.attrs[k] = v


DX2_LAYOUTS = {
    "clam": {"patch_size": 256, "patch_level": 1},
    "trident": {"patch_size": 256, "patch_size_level0": 512, "level0_magnification": 40, "target_magnification": 20,
                "level0_width": 2048, "level0_height": 1536, "overlap": 0, "name": "CASE-000-DX2", "savetodir": "None"},
    "clam-features-no-attrs": {},
}


@pytest.fixture(scope="module", params=sorted(DX2_LAYOUTS))
def built(request, tmp_path_factory):
    """(DX2's layout, the loaded cohort)."""
    root = make_clam_cohort(tmp_path_factory.mktemp(request.param), n_patients=3, with_pt=False)
    (root / "slides").mkdir()
    dx1 = np.full((1024, 1536, 3), GREY, np.uint8)
    dx1[MARK1[1]:MARK1[1] + 256, MARK1[0]:MARK1[0] + 256] = (40, 40, 200)
    write_pyramid_tiff(root / "slides" / "CASE-000-DX1.tif", dx1, mpp=0.5, min_side=128)
    dx2 = np.full((1536, 2048, 3), GREY, np.uint8)
    x, y, h = SQUARE[0], SQUARE[1], SIDE2 // 2
    for q, colour in enumerate(QUADRANTS):
        qy, qx = divmod(q, 2)
        dx2[y + qy * h:y + (qy + 1) * h, x + qx * h:x + (qx + 1) * h] = colour
    write_pyramid_tiff(root / "slides" / "CASE-000-DX2.tif", dx2, mpp=0.25, min_side=128)
    _write_h5(root / "h5_files" / "CASE-000-DX1.h5", _grid(6, 4, 256), {"patch_size": 256, "patch_level": 0})
    dtype = np.int32 if request.param == "clam-features-no-attrs" else np.int64  # CLAM writes int32 coords
    _write_h5(root / "h5_files" / "CASE-000-DX2.h5", _grid(4, 3, SIDE2), DX2_LAYOUTS[request.param], coords_dtype=dtype)
    return request.param, load_cohort(root)


@pytest.fixture
def cohort(built):
    return built[1]


def _box_mask(shape, coords, side0, scale) -> np.ndarray:
    return overlay_rgba(shape, coords, side0, scale, np.zeros((len(coords), 3)), 1.0)[..., 3] > 0


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.mark.parametrize("backend", available_backends())
def test_each_slide_is_drawn_and_read_with_its_own_geometry(cohort, backend):
    bag = cohort.load_bag("CASE-000")
    assert bag.slide_ids == ("CASE-000-DX1.svs", "CASE-000-DX2.svs") and bag.n_patches == 24 + 12
    with open_cohort_slide(cohort, "CASE-000-DX2.svs", backend=backend) as s2:
        assert s2.backend == backend and s2.dimensions == (2048, 1536)
        sp = slide_patches(bag, 1, s2)
        assert sp.slide_id == "CASE-000-DX2.svs" and sp.patch_size0 == SIDE2
        assert sp.index.tolist() == list(range(24, 36)) and len(sp.outside) == 0
        j = int(np.flatnonzero((sp.coords == SQUARE).all(1))[0])
        # the full-resolution read of that patch is exactly the painted square, quadrants in place
        patch = np.asarray(read_patch(s2, sp.coords[j], sp.patch_size0), int)
        assert patch.shape == (SIDE2, SIDE2, 3)
        h = SIDE2 // 2
        for q, colour in enumerate(QUADRANTS):
            qy, qx = divmod(q, 2)
            part = patch[qy * h + 8:(qy + 1) * h - 8, qx * h + 8:(qx + 1) * h - 8]
            assert np.abs(part - colour).mean() < 10, f"quadrant {q}"
        # read at the level the patches were cut at (what the encoder saw): 256 px, same content
        assert read_patch(s2, sp.coords[j], sp.patch_size0, level=1).size == (256, 256)
        # the overlay box of that patch on the thumbnail covers the painted square and nothing else
        thumb = s2.thumbnail(256)
        scale = thumbnail_scale(thumb, s2.dimensions)
        painted = np.abs(np.asarray(thumb, int) - GREY).sum(-1) > 60
        assert _iou(_box_mask(thumb.size[::-1], sp.coords[[j]], sp.patch_size0, scale), painted) > 0.85
        fig, _ = heatmap_figure(thumb, sp.coords, sp.values_of(np.arange(bag.n_patches, dtype=float)),
                                sp.patch_size0, scale)
        pts = fig.data[-1]
        assert pts.x[j] == pytest.approx((SQUARE[0] + SIDE2 / 2) * scale)
        assert pts.y[j] == pytest.approx((SQUARE[1] + SIDE2 / 2) * scale)
        # what the dashboard drew before: the first slide's geometry for every slide — a quarter of the patch
        g0 = bag.geometry(0)
        old_side = g0.patch_size * s2.level_downsamples[g0.patch_level or 0]
        assert old_side == 256 != sp.patch_size0
        assert _iou(_box_mask(thumb.size[::-1], sp.coords[[j]], old_side, scale), painted) < 0.3
    with open_cohort_slide(cohort, "CASE-000-DX1.svs", backend=backend) as s1:  # slide 1 keeps its 256 px
        sp1 = slide_patches(bag, 0, s1)
        assert sp1.patch_size0 == 256 and sp1.index.tolist() == list(range(24))
        k = int(np.flatnonzero((sp1.coords == MARK1).all(1))[0])
        assert np.abs(np.asarray(read_patch(s1, sp1.coords[k], sp1.patch_size0), int) - (40, 40, 200)).mean() < 10


def test_the_first_slide_fields_are_not_a_trap(cohort):
    """``bag.patch_size`` / ``patch_level`` refuse to answer for slides that differ (the old dashboard read them);
    the light layout a page caches (:class:`memamba_core.app.BagLayout`) places each slide exactly as the bag does."""
    from types import SimpleNamespace

    from memamba_core.app import patient_result

    bag = cohort.load_bag("CASE-000")
    with pytest.raises(ValueError, match="differ in patch_"):
        _ = (bag.patch_size, bag.patch_level)
    out = SimpleNamespace(risk=0.0, survival=np.ones(4), hazards=np.zeros(4), attention={}, transport_plan=None,
                          expert_weights={})
    layout = patient_result("CASE-000", out, bag).bag
    assert not hasattr(layout, "features")  # no (N, D_in) features in what a page caches
    for i, name in enumerate(("CASE-000-DX1.svs", "CASE-000-DX2.svs")):
        with open_cohort_slide(cohort, name) as sl:
            a, b = slide_patches(bag, i, sl), slide_patches(layout, i, sl)
            assert a.patch_size0 == b.patch_size0 == (256 if i == 0 else SIDE2)
            np.testing.assert_array_equal(a.index, b.index)
            np.testing.assert_array_equal(a.coords, b.coords)
    with pytest.raises(IndexError, match="slides 0..1"):
        layout.geometry(2)
    one = cohort.load_bag("CASE-001")  # one slide: the shared value is its own
    assert (one.patch_size, one.patch_level) == (256, 0)


def test_geometry_per_layout_says_where_the_side_comes_from(built):
    layout, cohort = built
    bag = cohort.load_bag("CASE-000")
    g = bag.geometry(1)
    if layout == "trident":
        assert (g.size0, g.patch_size, g.patch_level, g.level0_size) == (512, 256, None, (2048, 1536))
        assert g.source == "patch_size_level0"
    elif layout == "clam":
        assert (g.size0, g.patch_size, g.patch_level) == (None, 256, 1)
        assert g.side0((1.0, 2.0, 4.0)) == 512 and g.source == "patch_size × level_downsamples[patch_level]"
    else:
        assert (g.size0, g.patch_size, g.step0) == (None, None, 512) and g.source == "grid step of the coordinates"
        with open_cohort_slide(cohort, "CASE-000-DX2.svs") as s2:
            assert any("spacing of its coordinates" in n for n in slide_patches(bag, 1, s2).notes)


def test_values_of_checks_the_bag_length(cohort):
    bag = cohort.load_bag("CASE-000")
    with open_cohort_slide(cohort, "CASE-000-DX2.svs") as s2:
        sp = slide_patches(bag, 1, s2)
    plan = np.eye(3)[np.arange(bag.n_patches) % 3]                   # (N, G) rows follow the bag
    assert sp.values_of(plan).shape == (12, 3)
    np.testing.assert_array_equal(sp.values_of(np.arange(bag.n_patches)), np.arange(24, 36))
    with pytest.raises(ValueError, match="one value per patch of the bag"):
        sp.values_of(np.zeros(12))


def test_patch_level_missing_from_the_slide_is_an_input_error(cohort, tmp_path):
    bag = cohort.load_bag("CASE-000")
    with open_cohort_slide(cohort, "CASE-000-DX1.svs") as s1:
        levels = s1.level_count
    from dataclasses import replace

    bad = replace(bag, geometries=(replace(bag.geometry(0), patch_level=levels + 3, size0=None), bag.geometry(1)))
    with open_cohort_slide(cohort, "CASE-000-DX1.svs") as s1:
        with pytest.raises(InputError, match=rf"CASE-000-DX1.svs .*cut at level {levels + 3}.*re-extract"):
            slide_patches(bad, 0, s1)
