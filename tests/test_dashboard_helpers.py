"""The dashboard's slide-view helpers (``dashboard/_views.py``)."""

import numpy as np

from dashboard import _views


class _Bag:
    coords = np.array([[0, 0], [512, 0], [0, 512], [512, 512]])
    slide_index = np.array([0, 1, 0, 1])
    slide_ids = ("s0", "s1")
    patch_size = 256
    patch_level = 1


def test_slide_patches_and_selection():
    sp = _views.slide_patches(_Bag(), 1, (1.0, 2.0, 8.0))
    assert sp.slide_id == "s1" and sp.index.tolist() == [1, 3] and sp.patch_size0 == 512
    assert sp.coords.tolist() == [[512, 0], [512, 512]]
    bag = _Bag()
    bag.coords = None
    assert _views.slide_patches(bag, 0, (1.0,)) is None and _views.slide_patches(None, 0, (1.0,)) is None
    ev = {"selection": {"points": [{"curve_number": 1, "point_index": 3, "customdata": 1}]}}
    assert _views.selected_patch(ev, 2) == 1
    assert _views.selected_patch({"selection": {"points": [{"point_index": 5}]}}, 2) is None
    assert _views.selected_patch({"selection": {"points": []}}, 2) is None and _views.selected_patch(None, 2) is None
    assert _views.attention_keys({"pathology/b": 1, "genomics/a": 1, "pathology/a": 1}) == ["pathology/a", "pathology/b"]
