"""Deep Zoom tile geometry over the project's slide reader, and overlay alignment at every zoom."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from memamba_core.demo.render import write_pyramid_tiff
from memamba_core.errors import InputError
from memamba_core.slides import available_backends, open_slide
from memamba_core.viewer import (
    OVERLAP,
    TILE_SIZE,
    PatchLayout,
    SlideDeepZoom,
    attention_layer,
    dz_scale,
    grid_layer,
    render_png,
    topk_layer,
)
from tests._viewer_fixtures import real_svs_path, textured_rgb

W, H = 1536, 1024   # level 0; levels 768×512, 384×256, 192×128


@pytest.fixture(scope="module")
def tif(tmp_path_factory):
    p = tmp_path_factory.mktemp("viewer") / "S1.tif"
    img = textured_rgb(H, W) // 2 + 64      # values 64..191 everywhere ...
    img[600:856, 512:768] = (0, 255, 0)     # ... but a pure green patch-sized square at level-0 (512, 600), side 256
    write_pyramid_tiff(p, img, mpp=0.5, min_side=128, quality=92)
    return p


@pytest.mark.parametrize("backend", available_backends())
def test_dz_levels_use_every_slide_level(tif, backend):
    with SlideDeepZoom(open_slide(tif, backend=backend)) as dz:
        assert dz.level_dimensions[-1] == (W, H)
        assert dz.level_count == int(np.ceil(np.log2(max(W, H)))) + 1
        used = [dz.slide_level(z) for z in range(dz.level_count)]
        # DZ level with scale 2^k reads slide level k (downsamples 1, 2, 4, 8), coarser DZ levels the coarsest
        assert used[-4:] == [3, 2, 1, 0]
        assert set(used) == {0, 1, 2, 3}
        assert used == sorted(used, reverse=True)
        for z in range(dz.level_count):
            w, h = dz.level_dimensions[z]
            assert (w, h) == (int(np.ceil(W / dz_scale(dz.level_count, z))), int(np.ceil(H / dz_scale(dz.level_count, z))))
            assert dz.level_tiles[z] == (int(np.ceil(w / TILE_SIZE)), int(np.ceil(h / TILE_SIZE)))
        assert 'TileSize="254"' in dz.dzi() and f'Width="{W}"' in dz.dzi() and 'Format="png"' in dz.dzi("png")


@pytest.mark.parametrize("backend", available_backends())
@pytest.mark.parametrize("k", [0, 1, 2])
def test_tile_pixels_equal_read_region_of_the_same_area(tif, backend, k):
    with SlideDeepZoom(open_slide(tif, backend=backend)) as dz:
        z = dz.level_count - 1 - k
        for col, row in [(0, 0), (1, 1), (dz.level_tiles[z][0] - 1, dz.level_tiles[z][1] - 1)]:
            box = dz.box(z, col, row)
            assert box.slide_level == k and box.scale == 2**k
            assert box.origin0 == ((col * TILE_SIZE - OVERLAP * (col > 0)) * 2**k, (row * TILE_SIZE - OVERLAP * (row > 0)) * 2**k)
            tile = np.asarray(dz.tile_image(z, col, row))
            assert tile.shape == (box.size[1], box.size[0], 3)
            direct = dz.slide.read_array((int(box.origin0[0]), int(box.origin0[1])), k, box.size)
            np.testing.assert_array_equal(tile, direct)
            served = np.asarray(Image.open(io.BytesIO(dz.tile_jpeg(z, col, row))).convert("RGB"), np.float64)
            assert np.abs(served - direct).mean() < 3.0   # JPEG noise only


def test_a_coarse_level_without_a_slide_level_is_the_downsampled_image(tif):
    with SlideDeepZoom(tif) as dz:
        z = dz.level_count - 6                          # scale 32: below the coarsest slide level (8)
        tile = np.asarray(dz.tile_image(z, 0, 0), np.float64)
        assert tile.shape[:2] == (int(np.ceil(H / 32)), int(np.ceil(W / 32)))
        ref = np.asarray(dz.slide.read_region((0, 0), 3, dz.slide.level_dimensions[3]).resize(
            (tile.shape[1], tile.shape[0]), Image.Resampling.BOX), np.float64)
        assert np.abs(tile - ref).mean() < 4.0


def test_bad_tile_addresses_are_input_errors(tif):
    with SlideDeepZoom(tif) as dz:
        for z, c, r in [(-1, 0, 0), (dz.level_count, 0, 0), (dz.level_count - 1, 99, 0), (0, 0, 1)]:
            with pytest.raises(InputError, match="deep-zoom level|outside deep-zoom level"):
                dz.box(z, c, r)


def test_real_aperio_slide_tiles(tmp_path):
    svs = real_svs_path()
    for backend in available_backends():
        with SlideDeepZoom(open_slide(svs, backend=backend)) as dz:
            assert dz.level_dimensions[-1] == (2220, 2967)
            z = dz.level_count - 1
            box = dz.box(z, 3, 5)
            tile = np.asarray(dz.tile_image(z, 3, 5))
            direct = dz.slide.read_array((int(box.origin0[0]), int(box.origin0[1])), 0, box.size)
            np.testing.assert_array_equal(tile, direct)
            assert tile.std() > 10   # real tissue, not background
            # one level only: every coarser DZ level is a downsample of level 0, read region by region
            assert {dz.slide_level(k) for k in range(dz.level_count)} == {0}
            assert dz.tile_image(z - 3, 0, 0).size == dz.box(z - 3, 0, 0).size


# -- overlays land on the patch's pixels at every zoom ------------------------------------------------

def _layout():
    coords = np.array([[0, 0], [256, 0], [512, 600], [1024, 512], [1280, 768]])
    return PatchLayout("S1", np.arange(5), coords, 256.0)


def _green(tile: np.ndarray) -> np.ndarray:
    return (tile[..., 1] > 215) & (tile[..., 0] < 40) & (tile[..., 2] < 40)


@pytest.mark.parametrize("k", [0, 1, 2, 3, 5])
def test_overlay_rectangle_lands_on_the_patch_pixels(tif, k):
    """Patch 2 is the green square painted into the slide: its overlay pixels are the square's pixels."""
    lay = _layout()
    layer = attention_layer(lay, np.array([0.0, 0.0, 1.0, 0.0, 0.0]))
    with SlideDeepZoom(tif) as dz:
        z = dz.level_count - 1 - k
        s = 2**k
        col, row = int((512 + 128) / s // TILE_SIZE), int((600 + 128) / s // TILE_SIZE)
        box = dz.box(z, col, row)
        tile = np.asarray(dz.tile_image(z, col, row))
        over = np.asarray(Image.open(io.BytesIO(render_png(layer, box))))
        assert over.shape == (box.size[1], box.size[0], 4)
        hot = np.all(over[..., :3] == layer.fill[-1][:3], axis=-1) & (over[..., 3] == 255)  # the hottest colour
        green = _green(tile)
        assert hot.any() and green.any()
        inter, union = (hot & green).sum(), (hot | green).sum()
        assert inter / union > (0.9 if k <= 3 else 0.5), (k, inter, union)
        ys, xs = np.nonzero(hot)
        ox, oy = box.origin0
        assert xs.min() == int(np.ceil((512 - ox) / s - 0.5)) and ys.min() == int(np.ceil((600 - oy) / s - 0.5))


def test_overlay_tiles_agree_across_tile_borders(tif):
    """A patch split over four tiles is drawn as one rectangle: the union of its parts is its square."""
    lay = PatchLayout("S1", np.arange(1), np.array([[200, 200]]), 150.0)   # crosses the tile border at 253
    layer = grid_layer(lay)
    with SlideDeepZoom(tif) as dz:
        z = dz.level_count - 1
        canvas = np.zeros((600, 600), bool)
        for col in (0, 1):
            for row in (0, 1):
                box = dz.box(z, col, row)
                a = layer.render(box)[..., 3] > 0
                x0, y0 = int(box.origin0[0]), int(box.origin0[1])
                h, w = a.shape
                canvas[y0:y0 + h, x0:x0 + w] |= a[: 600 - y0, : 600 - x0]
        ys, xs = np.nonzero(canvas)
        assert (xs.min(), xs.max(), ys.min(), ys.max()) == (200, 349, 200, 349)
        assert canvas[201:349, 201:349].sum() == 0   # an outline, hollow


def test_topk_ranks_drawn_only_when_large_enough(tif):
    lay = _layout()
    scores = np.array([0.5, 0.1, 0.9, 0.3, 0.2])
    layer = topk_layer(lay, scores, k=3)
    assert layer.labels == ("1", "2", "3")
    np.testing.assert_array_equal(layer.coords, lay.coords[[2, 0, 3]])
    with SlideDeepZoom(tif) as dz:
        z = dz.level_count - 1
        box = dz.box(z, 2, 2)   # holds patch 2 at full resolution
        img = layer.render(box)
        white = np.all(img[..., :3] == 255, axis=-1) & (img[..., 3] > 200)
        assert white.sum() > 50      # the label's box
        coarse = layer.render(dz.box(z - 4, 0, 0))   # patches of 16 px: outlines, no labels
        assert coarse[..., 3].any() and not np.all(coarse[..., :3] == 255, axis=-1).any()
