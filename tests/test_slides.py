"""Slide reading: both backends, regions, thumbnails, and the errors for broken files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from memamba_core.demo.render import write_pyramid_tiff
from memamba_core.errors import InputError
from memamba_core.slides import Slide, available_backends, open_slide

BACKENDS = available_backends()
both = pytest.mark.skipif(len(BACKENDS) < 2, reason="needs OpenSlide and TiffSlide")


def _image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth colourful content with a sharp feature, so JPEG keeps it recognisable."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 255 // w), (yy * 255 // h), ((xx + yy) % 256)], -1).astype(np.uint8)
    img[100:140, 200:260] = (20, 30, 200)
    img += rng.integers(0, 3, img.shape, dtype=np.uint8)
    return img


@pytest.fixture(scope="module")
def tif(tmp_path_factory):
    p = tmp_path_factory.mktemp("slides") / "S1.tif"
    write_pyramid_tiff(p, _image(1024, 1536), mpp=0.5, min_side=128)
    return p


def test_auto_prefers_openslide_and_reports_geometry(tif):
    with open_slide(tif) as s:
        assert isinstance(s, Slide)
        assert s.backend == BACKENDS[0]
        assert s.dimensions == (1536, 1024)
        assert s.level_count >= 3
        assert s.level_dimensions[1] == (768, 512)
        assert s.level_downsamples[:3] == pytest.approx((1.0, 2.0, 4.0))
        assert s.mpp == pytest.approx((0.5, 0.5))


@both
def test_both_backends_agree(tif):
    a, b = open_slide(tif, backend="openslide"), open_slide(tif, backend="tiffslide")
    with a, b:
        assert a.level_dimensions == b.level_dimensions
        assert a.level_downsamples == pytest.approx(b.level_downsamples)
        assert a.mpp == pytest.approx(b.mpp)
        for loc, level, size in [((0, 0), 0, (256, 256)), ((300, 200), 0, (100, 50)), ((512, 256), 1, (200, 150)),
                                 ((1400, 900), 0, (256, 256))]:
            ra, rb = a.read_region(loc, level, size), b.read_region(loc, level, size)
            assert ra.mode == rb.mode == "RGB" and ra.size == rb.size == size
            assert np.abs(np.asarray(ra, int) - np.asarray(rb, int)).max() <= 1
        ta, tb = a.thumbnail(200), b.thumbnail(200)
        assert ta.size == tb.size == (200, 133)
        assert np.abs(np.asarray(ta, int) - np.asarray(tb, int)).max() <= 2


def test_read_region_is_level0_xy_and_pads_white(tif):
    src = _image(1024, 1536)
    with open_slide(tif) as s:
        a = s.read_array((200, 100), 0, (60, 40))          # the blue block at x 200..260, y 100..140
        assert a.shape == (40, 60, 3)
        assert np.abs(a.astype(int) - src[100:140, 200:260]).mean() < 6
        edge = s.read_array((1500, 1000), 0, (64, 64))     # runs off the right and bottom edges
        assert (edge[30:, :] == 255).all() and (edge[:, 40:] == 255).all()
        assert not (edge[:20, :20] == 255).all()
        lvl1 = s.read_array((400, 200), 1, (30, 20))       # level-1 read at level-0 (x, y)
        assert np.abs(lvl1.astype(int) - src[200:240:2, 400:460:2]).mean() < 8


def test_best_level_for_downsample(tif):
    with open_slide(tif) as s:
        assert s.best_level_for_downsample(1.0) == 0
        assert s.best_level_for_downsample(1.9) == 0
        assert s.best_level_for_downsample(2.0) == 1
        assert s.best_level_for_downsample(3.5) == 1
        assert s.best_level_for_downsample(1000) == s.level_count - 1


def test_closed_slide_releases_handle_and_says_so(tif):
    s = open_slide(tif)
    assert s.read_array((0, 0), 0, (4, 4)).shape == (4, 4, 3)
    s.close()
    s.close()  # idempotent
    with pytest.raises(InputError, match=r"S1.tif: the slide was closed; open it again"):
        s.read_region((0, 0), 0, (4, 4))
    with open_slide(tif) as again:  # closing one handle leaves the file readable
        assert again.read_array((0, 0), 0, (4, 4)).shape == (4, 4, 3)


@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_truncated_file_names_the_file(tif, tmp_path, backend):
    bad = tmp_path / "cut.tif"
    data = tif.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.tif"):
        with open_slide(bad, backend=backend) as s:  # opening may succeed; reading must then fail clearly
            s.read_region((0, 0), 0, s.dimensions)


def test_not_a_slide_names_the_file(tmp_path):
    bad = tmp_path / "notes.svs"
    bad.write_text("this is not a slide\n" * 50)
    with pytest.raises(InputError, match="notes.svs") as e:
        open_slide(bad)
    assert "OpenSlide or TiffSlide" in str(e.value)


def test_unsupported_format_names_the_file(tmp_path):
    png = tmp_path / "photo.png"
    Image.fromarray(_image(64, 64)).save(png)
    with pytest.raises(InputError, match="photo.png"):
        open_slide(png)


def test_missing_file_and_bad_arguments(tif, tmp_path):
    with pytest.raises(InputError, match="no such slide file"):
        open_slide(tmp_path / "absent.svs")
    with pytest.raises(InputError, match="unknown slide backend"):
        open_slide(tif, backend="bioformats")
    with open_slide(tif) as s:
        with pytest.raises(InputError, match="level 9"):
            s.read_region((0, 0), 9, (4, 4))
        with pytest.raises(InputError, match="positive"):
            s.read_region((0, 0), 0, (0, 4))


def test_works_with_either_backend_missing(tif, monkeypatch):
    import memamba_core.slides.reader as reader

    real = reader._import_backend
    for gone in ("openslide", "tiffslide"):
        monkeypatch.setattr(reader, "_import_backend", lambda name, gone=gone: None if name == gone else real(name))
        left = [b for b in reader.BACKENDS if b != gone and real(b) is not None]
        if not left:
            continue
        assert reader.available_backends() == tuple(left)
        with open_slide(tif) as s:
            assert s.backend == left[0] and s.dimensions == (1536, 1024)
    monkeypatch.setattr(reader, "_import_backend", lambda name: None)
    with pytest.raises(InputError, match="S1.tif.*openslide: not installed; tiffslide: not installed"):
        open_slide(tif)
