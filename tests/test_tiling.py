"""Tissue mask and patch grid: Otsu, tissue detection against known truth, level choice, validation."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from memamba_core.demo.render import SlideSpec, make_layout, paint_level0, write_pyramid_tiff
from memamba_core.demo.textures import make_texture_bank
from memamba_core.errors import InputError
from memamba_core.slides import (
    TilingConfig, iter_patch_batches, mask_from_rgb, open_slide, otsu_threshold, patch_grid, read_patch,
)


@pytest.fixture(scope="module")
def painted(tmp_path_factory):
    """A small synthetic slide with its 1/4-resolution class map (0 = background)."""
    spec = SlideSpec("T1", 2048, 1536, tumour_target=0.3, seed=3)
    class4 = make_layout(spec)
    img = paint_level0(spec, class4, make_texture_bank(5, 256))
    p = tmp_path_factory.mktemp("tiling") / "T1.tif"
    write_pyramid_tiff(p, img, mpp=0.5)
    return p, class4, img


def test_otsu_splits_two_modes():
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.normal(30, 5, 5000), rng.normal(150, 10, 3000)]).clip(0, 255).astype(np.uint8)
    t = otsu_threshold(v)
    assert 50 < t < 120
    assert otsu_threshold(np.full(10, 7, np.uint8)) == 7


def test_mask_of_blank_image_is_empty():
    blank = np.full((64, 64, 3), 245, np.uint8)
    mask, thr = mask_from_rgb(blank, mpp_mask=8.0)
    assert not mask.any()
    assert thr >= 15


def test_tissue_mask_matches_truth(painted):
    path, class4, _ = painted
    with open_slide(path) as s:
        grid = patch_grid(s)
    m = grid.mask
    truth = class4 > 0
    dx, dy = m.downsample
    # truth resampled onto the mask grid: centre of each mask pixel in class4 cells (4 level-0 px each)
    yi = ((np.arange(m.mask.shape[0]) + 0.5) * dy / 4).astype(int).clip(0, truth.shape[0] - 1)
    xi = ((np.arange(m.mask.shape[1]) + 0.5) * dx / 4).astype(int).clip(0, truth.shape[1] - 1)
    t = truth[np.ix_(yi, xi)]
    iou = (t & m.mask).sum() / (t | m.mask).sum()
    assert iou > 0.85
    assert 0.3 < m.fraction < 0.9


def test_patch_coordinates_lie_on_tissue(painted):
    path, class4, _ = painted
    with open_slide(path) as s:
        grid = patch_grid(s)
    assert len(grid) > 10
    assert grid.coords.dtype == np.int64 and grid.coords.shape == (len(grid), 2)
    assert (grid.coords % grid.size0 == 0).all()
    W, H = 2048, 1536
    assert (grid.coords[:, 0] + grid.size0 <= W).all() and (grid.coords[:, 1] + grid.size0 <= H).all()
    # row-major order
    key = grid.coords[:, 1] * W + grid.coords[:, 0]
    assert (np.diff(key) > 0).all()
    for x, y in grid.coords:
        block = class4[y // 4:(y + grid.size0) // 4, x // 4:(x + grid.size0) // 4]
        assert (block > 0).mean() >= 0.4, (x, y)  # ≥ 50 % by the mask; truth agrees within the mask's resolution
    # and background grid cells were left out
    nx, ny = W // grid.size0, H // grid.size0
    kept = {tuple(c) for c in grid.coords.tolist()}
    for j in range(ny):
        for i in range(nx):
            x, y = i * grid.size0, j * grid.size0
            if (class4[y // 4:(y + grid.size0) // 4, x // 4:(x + grid.size0) // 4] > 0).mean() < 0.2:
                assert (x, y) not in kept


def test_patch_batches_follow_the_grid(painted):
    path, _, img = painted
    with open_slide(path) as s:
        grid = patch_grid(s)
        seen = []
        for idx, batch in iter_patch_batches(s, grid, batch_size=7):
            assert batch.shape == (len(idx), 256, 256, 3) and batch.dtype == np.uint8
            seen.extend(idx.tolist())
            x, y = grid.coords[idx[0]]
            assert np.abs(batch[0].astype(int) - img[y:y + 256, x:x + 256]).mean() < 10  # JPEG error only
            one = read_patch(s, grid.coords[idx[-1]], grid.size0, level=grid.patch_level, out_size=grid.patch_size)
            assert np.array_equal(batch[-1], np.asarray(one))  # the batch reader and the viewer's read agree
        assert seen == list(range(len(grid)))


def test_forty_x_slide_reads_from_a_coarser_level(painted, tmp_path):
    """At 0.25 µm/px a 20× patch spans 512 level-0 px and is read at level 1 as 256 px."""
    _, _, img = painted
    p = tmp_path / "x40.tif"
    write_pyramid_tiff(p, img, mpp=0.25)
    with open_slide(p) as s:
        grid = patch_grid(s)
        assert (grid.size0, grid.patch_level, grid.read_size, grid.patch_size) == (512, 1, 256, 256)
        attrs = grid.h5_attrs()
        assert attrs["patch_size"] * s.level_downsamples[attrs["patch_level"]] == 512
        assert attrs["target_mpp"] == pytest.approx(0.5)
        assert read_patch(s, grid.coords[0], grid.size0, level=grid.patch_level).size == (256, 256)
        full = read_patch(s, grid.coords[0], grid.size0)           # level 0: the full 512-px patch
        x, y = grid.coords[0]
        assert full.size == (512, 512) and np.abs(np.asarray(full, int) - img[y:y + 512, x:x + 512]).mean() < 10
    with open_slide(p) as s:  # a 10× grid: 256 px at 1 µm/px = 1024 level-0 px, level 2
        g10 = patch_grid(s, TilingConfig(target_mpp=1.0))
        assert (g10.size0, g10.patch_level, g10.read_size) == (1024, 2, 256)


def test_slide_without_mpp_assumes_default(painted, tmp_path):
    _, _, img = painted
    p = tmp_path / "nompp.tif"
    import tifffile

    tifffile.imwrite(p, img[:1024, :1024], tile=(256, 256), photometric="rgb", compression="jpeg", metadata=None)
    with open_slide(p) as s:
        assert s.mpp is None
        grid = patch_grid(s)
        assert grid.mpp_assumed and grid.mpp0 == 0.5 and grid.size0 == 256


@pytest.mark.parametrize("kw, msg", [({"patch_size": 4}, "patch_size"), ({"target_mpp": 0}, "target_mpp"),
                                      ({"min_tissue": 1.5}, "min_tissue")])
def test_tiling_config_validation(kw, msg):
    with pytest.raises(InputError, match=msg):
        TilingConfig(**kw)


def test_layout_is_deterministic():
    spec = SlideSpec("D", 1024, 768, 0.4, seed=11)
    a, b = make_layout(spec), make_layout(SlideSpec(**asdict(spec)))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, make_layout(SlideSpec("D", 1024, 768, 0.4, seed=12)))
