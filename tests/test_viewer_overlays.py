"""Overlay builders, per-slide patch geometry of multi-slide bags, and ask-a-patch."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from shapely.geometry import Polygon

from memamba_core.data import Bag
from memamba_core.demo.render import write_pyramid_tiff
from memamba_core.errors import InputError
from memamba_core.slides import PatchGeometry, TissueMask, open_slide, slide_patches
from memamba_core.viewer import (
    PatchLayout,
    TileBox,
    ask_patch,
    attention_colours,
    attention_layer,
    polygon_layer,
    tissue_layer,
    transport_layer,
)
from tests._viewer_fixtures import textured_rgb


def _box(x0=0.0, y0=0.0, scale=1.0, size=(256, 256)):
    return TileBox(0, 0, 0, (x0, y0), scale, size, 0)


def _bag():
    """Two slides: slide 0 patches 256 px at level 0, slide 1 patches 128 px read at level 1 (ds 2 → 256 level-0 px)."""
    coords = np.array([[0, 0], [256, 0], [512, 512], [0, 0], [512, 0]], np.int64)
    return Bag(torch.zeros(5, 4), coords, np.array([0, 0, 0, 1, 1]), ("A", "B"),
               geometries=(PatchGeometry(256, 0), PatchGeometry(128, 1)))


def _layout(bag, pos, level_downsamples, size=(4096, 4096)):
    """The viewer's layout of slide ``pos`` through the library's slide view, on a slide of these levels."""
    slide = SimpleNamespace(path=Path(f"{bag.slide_ids[pos]}.tif"), dimensions=size, level_downsamples=level_downsamples)
    return PatchLayout.from_slide_patches(slide_patches(bag, pos, slide))


def test_each_slide_has_its_own_geometry():
    bag = _bag()
    a = _layout(bag, 0, (1.0, 4.0))
    b = _layout(bag, 1, (1.0, 2.0))
    assert a.side0 == 256 and a.index.tolist() == [0, 1, 2]
    assert b.side0 == 256 and b.index.tolist() == [3, 4] and b.coords.tolist() == [[0, 0], [512, 0]]
    assert _layout(bag, 1, (1.0, 4.0)).side0 == 512
    with pytest.raises(InputError, match="cut at level 1"):
        _layout(bag, 1, (1.0,))
    assert b.patch_at(600, 10) == 1 and b.patch_at(300, 10) is None
    assert a.outside(600, 600).tolist() == [2]     # (512, 512) + 256 does not fit a 600 × 600 slide
    with pytest.raises(InputError, match="non-finite"):
        PatchLayout("x", [0], [[np.nan, 0]], 10)
    with pytest.raises(InputError, match="not a positive number"):
        PatchLayout("x", [0], [[0, 0]], 0)


def test_attention_scaled_over_the_whole_patient():
    bag = _bag()
    scores = np.array([0.1, 0.2, 0.3, 0.9, 0.5])
    a = attention_layer(_layout(bag, 0, (1.0, 4.0)), scores)
    b = attention_layer(_layout(bag, 1, (1.0, 2.0)), scores)
    full = attention_colours(scores)
    # the same patient colour for the same score whichever slide it is on; hottest painted last
    assert (b.fill[-1] == full[3]).all() and (a.fill[-1] == full[2]).all()
    raw = attention_colours(scores, "raw", "jet")
    assert not (raw == full).all()
    for bad, match in [(dict(scaling="log"), "attention scale"), (dict(cmap="rainbow-ish"), "colour map")]:
        with pytest.raises(InputError, match=match):
            attention_colours(scores, **bad)
    with pytest.raises(InputError, match="non-finite"):
        attention_layer(_layout(bag, 0, (1.0,)), np.array([0.1, np.nan, 0.3, 0.9, 0.5]))
    with pytest.raises(InputError, match="another bag"):
        attention_layer(_layout(bag, 1, (1.0, 2.0)), scores[:3])


def test_transport_layer_colours_by_group_and_filters_one():
    lay = PatchLayout("A", np.arange(3), np.array([[0, 0], [256, 0], [0, 256]]), 256)
    plan = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    every = transport_layer(lay, plan)
    assert len(every.coords) == 3 and (every.fill[0] == every.fill[2]).all() and not (every.fill[0] == every.fill[1]).all()
    only = transport_layer(lay, plan, group=1)
    assert only.coords.tolist() == [[256, 0]]
    img = only.render(_box(size=(512, 512)))
    assert img[10, 300, 3] == 255 and img[10, 10, 3] == 0
    with pytest.raises(InputError, match="group 5 does not exist"):
        transport_layer(lay, plan, group=5)


def test_tissue_and_polygon_layers():
    mask = TissueMask(mask=np.array([[True, False], [False, True]]), downsample=(100.0, 100.0), threshold=20, level=2)
    img = tissue_layer(mask).render(_box(scale=2.0, size=(100, 100)))    # covers level-0 0..200
    assert img[10, 10, 3] == 255 and img[10, 90, 3] == 0 and img[90, 90, 3] == 255
    ring = Polygon([(0, 0), (200, 0), (200, 200), (0, 200)], [[(50, 50), (150, 50), (150, 150), (50, 150)]])
    img = polygon_layer([ring], [(255, 0, 0)]).render(_box(size=(256, 256)))
    assert img[25, 25, 3] > 0 and img[100, 100, 3] == 0           # filled, hole empty
    assert tuple(img[0, 100, :3]) == (255, 0, 0) and img[0, 100, 3] == 255   # the outline
    assert not polygon_layer([ring], [(255, 0, 0)]).render(_box(x0=5000, y0=5000))[..., 3].any()
    with pytest.raises(InputError, match="1 geometries but 2 colours"):
        polygon_layer([ring], [(1, 2, 3), (4, 5, 6)])


def test_ask_patch_gives_every_branch_rank_group_and_pixels(tmp_path):
    path = tmp_path / "S.tif"
    write_pyramid_tiff(path, textured_rgb(1024, 1024, 5), mpp=0.5, min_side=128)
    bag = _bag()
    lay = _layout(bag, 1, (1.0, 2.0))
    att = {"pathology/pool": torch.tensor([0.1, 0.2, 0.3, 0.9, 0.5]), "pathology/ranked": np.array([5., 4., 3., 2., 1.]),
           "genomics/pool": np.array([0.5, 0.5])}
    plan = np.array([[1, 0], [1, 0], [0, 1], [0.3, 0.7], [0.6, 0.4]])
    with open_slide(path) as slide:
        rep = ask_patch(lay, (520.0, 100.0), att, plan, ("Immune", "Stroma"), slide)
        ref = slide.read_array((512, 0), 0, (256, 256))
    assert rep.slide_id == "B" and rep.bag_row == 4 and rep.xy0 == (512, 0) and rep.side0 == 256
    by = {s.key: s for s in rep.scores}
    assert set(by) == {"pathology/pool", "pathology/ranked"}
    assert by["pathology/pool"].rank == 2 and by["pathology/pool"].of == 5 and by["pathology/pool"].percentile == 75
    assert by["pathology/ranked"].rank == 5 and by["pathology/ranked"].percentile == 0
    assert rep.group == "Immune" and rep.group_mass == pytest.approx(0.6) and rep.plan_row == {"Immune": 0.6, "Stroma": 0.4}
    np.testing.assert_array_equal(np.asarray(rep.image), ref)
    assert rep.rows()[0]["rank"] == "2 / 5"
    assert ask_patch(lay, (300.0, 10.0), att) is None
    with pytest.raises(InputError, match="another bag"):
        ask_patch(lay, (520.0, 100.0), {"pathology/pool": np.ones(3)})
    with pytest.raises(InputError, match="non-finite"):
        ask_patch(lay, (520.0, 100.0), {"pathology/pool": np.array([1, 1, 1, 1, np.inf])})
