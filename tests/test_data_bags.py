"""CLAM bag reading: validation of each bad file, slide-id lookup, the LRU cache."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from memamba_core.data import load_cohort
from memamba_core.data.bags import Bag, BagCache, slide_stem
from memamba_core.errors import InputError
from tests._cohort_fixtures import make_clam_cohort, write_h5, write_pt

SLIDE = "CASE-001-DX1"


@pytest.fixture
def pt_root(tmp_path):
    return make_clam_cohort(tmp_path, n_patients=3, with_h5=False)


@pytest.fixture
def h5_root(tmp_path):
    return make_clam_cohort(tmp_path, n_patients=3, with_pt=False)


def _load_error(root, case="CASE-001") -> str:
    cohort = load_cohort(root)
    with pytest.raises(InputError) as e:
        cohort.load_bag(case)
    return str(e.value)


def test_slide_stem():
    assert slide_stem("TCGA-2F-A9KO-01Z-00-DX1.195576CF-B739.svs") == "TCGA-2F-A9KO-01Z-00-DX1.195576CF-B739"
    assert slide_stem("a.b.NDPI") == "a.b" and slide_stem("plain") == "plain"


def test_missing_file_marks_pathology_missing(pt_root):
    (pt_root / "pt_files" / f"{SLIDE}.pt").unlink()
    cohort = load_cohort(pt_root)
    assert not cohort.has_pathology("CASE-001") and cohort.load_bag("CASE-001") is None
    assert any("CASE-001-DX1.svs" in i for i in cohort.issues)


def test_file_deleted_after_loading(pt_root):
    cohort = load_cohort(pt_root)
    (pt_root / "pt_files" / f"{SLIDE}.pt").unlink()
    with pytest.raises(InputError, match=rf"{SLIDE}\.pt: feature file missing"):
        cohort.load_bag("CASE-001")


def test_unreadable_pt(pt_root):
    (pt_root / "pt_files" / f"{SLIDE}.pt").write_bytes(b"not a torch file")
    msg = _load_error(pt_root)
    assert f"{SLIDE}.pt: cannot be read as a PyTorch tensor file" in msg and "re-extract" in msg


def test_pt_not_a_tensor(pt_root):
    write_pt(pt_root / "pt_files" / f"{SLIDE}.pt", {"features": torch.zeros(3, 8)})
    assert "holds a dict, not a tensor" in _load_error(pt_root)


def test_pt_pickled_object_refused(pt_root):
    import collections
    write_pt(pt_root / "pt_files" / f"{SLIDE}.pt", collections.Counter(a=1))
    msg = _load_error(pt_root)
    assert f"{SLIDE}.pt" in msg and ("cannot be read" in msg or "not a tensor" in msg)


def test_wrong_width(pt_root):
    write_pt(pt_root / "pt_files" / f"{SLIDE}.pt", torch.ones(5, 7))
    msg = _load_error(pt_root)
    assert f"{SLIDE}.pt: features are 7 wide but the cohort's feature width is 8" in msg


def test_wrong_width_vs_configured(pt_root):
    (pt_root / "cohort.toml").write_text("feature_dim = 16\n")
    assert "cohort's feature width is 16" in _load_error(pt_root, "CASE-000")


def test_empty_bag(pt_root):
    write_pt(pt_root / "pt_files" / f"{SLIDE}.pt", torch.zeros(0, 8))
    assert "the bag is empty (0 patches)" in _load_error(pt_root)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_inf(pt_root, bad):
    x = torch.ones(5, 8)
    x[3, 2] = bad
    write_pt(pt_root / "pt_files" / f"{SLIDE}.pt", x)
    assert "NaN or inf in 1 of 5 patches (first at patch row 3)" in _load_error(pt_root)


def test_wrong_rank(pt_root):
    write_pt(pt_root / "pt_files" / f"{SLIDE}.pt", torch.ones(8))
    assert "expected (N patches, D features)" in _load_error(pt_root)


def test_leading_singleton_dim_accepted(pt_root):
    write_pt(pt_root / "pt_files" / f"{SLIDE}.pt", torch.ones(1, 5, 8, dtype=torch.float16))
    bag = load_cohort(pt_root).load_bag("CASE-001")
    assert bag.features.shape == (5, 8) and bag.features.dtype == torch.float32


def test_coords_count_mismatch(h5_root):
    write_h5(h5_root / "h5_files" / f"{SLIDE}.h5", np.ones((5, 8), np.float32), np.zeros((4, 2), np.int64))
    msg = _load_error(h5_root)
    assert f"{SLIDE}.h5: 'coords' has 4 rows but 'features' has 5" in msg


def test_coords_wrong_shape(h5_root):
    write_h5(h5_root / "h5_files" / f"{SLIDE}.h5", np.ones((5, 8), np.float32), np.zeros((5, 3), np.int64))
    assert "expected (N, 2)" in _load_error(h5_root)


def test_h5_without_features(h5_root):
    with h5py.File(h5_root / "h5_files" / f"{SLIDE}.h5", "w") as f:
        f.create_dataset("coords", data=np.zeros((3, 2)))
    assert "no 'features' dataset (found: coords)" in _load_error(h5_root)


def test_unreadable_h5(h5_root):
    (h5_root / "h5_files" / f"{SLIDE}.h5").write_bytes(b"garbage")
    assert f"{SLIDE}.h5: cannot be read as an HDF5 file" in _load_error(h5_root)


def test_h5_nan(h5_root):
    x = np.ones((5, 8), np.float32)
    x[0, 0] = np.nan
    write_h5(h5_root / "h5_files" / f"{SLIDE}.h5", x, np.zeros((5, 2), np.int64))
    assert "NaN or inf" in _load_error(h5_root)


def test_h5_without_coords_and_file_attrs(h5_root):
    write_h5(h5_root / "h5_files" / f"{SLIDE}.h5", np.ones((5, 8), np.float32), None, patch_size=512, patch_level=1)
    bag = load_cohort(h5_root).load_bag("CASE-001")
    assert bag.coords is None and (bag.patch_size, bag.patch_level) == (512, 1)


def test_h5_attrs_on_file(h5_root):
    write_h5(h5_root / "h5_files" / f"{SLIDE}.h5", np.ones((5, 8), np.float32), np.zeros((5, 2), np.int64),
             patch_size=224, patch_level=2, attrs_on="file")
    bag = load_cohort(h5_root).load_bag("CASE-001")
    assert (bag.patch_size, bag.patch_level) == (224, 2) and bag.coords.shape == (5, 2)


def test_mixed_h5_and_pt_slides_drop_coords(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=2)
    (root / "h5_files" / "CASE-000-DX2.h5").unlink()
    bag = load_cohort(root).load_bag("CASE-000")
    assert bag.coords is None and bag.features.shape == (9, 8)
    assert bag.geometry(0).patch_size == 256 and bag.geometry(1).patch_size is None
    with pytest.raises(ValueError, match=r"differ in patch_size \(CASE-000-DX1.svs: 256, CASE-000-DX2.svs: None\)"):
        bag.patch_size  # no single value to trip over: ask per slide


def test_slide_id_with_extension_kept_in_file_name(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=2, with_h5=False)
    p = root / "pt_files" / "CASE-001-DX1.pt"
    p.rename(root / "pt_files" / "CASE-001-DX1.svs.pt")
    assert load_cohort(root).load_bag("CASE-001").n_patches == 6  # slide 2: 4 + 2 patches


def test_stray_feature_files_reported(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=2, with_h5=False)
    write_pt(root / "pt_files" / "OTHER.pt", torch.ones(2, 8))
    cohort = load_cohort(root)
    assert any("match no slide_id" in i and "OTHER" in i for i in cohort.issues)


def _bag(n: int) -> Bag:
    return Bag(torch.zeros(n, 4), None, np.zeros(n, np.int64), ("s",))


def test_lru_cache_bounds():
    cache = BagCache(max_items=2, max_bytes=10_000)
    a, b, c = _bag(10), _bag(10), _bag(10)
    cache.put("a", a)
    cache.put("b", b)
    assert cache.get("a") is a  # a is now most recent
    cache.put("c", c)
    assert cache.get("b") is None and cache.get("a") is a and cache.get("c") is c
    cache.put("big", _bag(1000))  # 16 kB + index > 10 kB: not cached
    assert cache.get("big") is None and len(cache) == 2
    cache.clear()
    assert len(cache) == 0


def test_cache_by_bytes_evicts_oldest():
    cache = BagCache(max_items=10, max_bytes=500)
    cache.put("a", _bag(10))  # 160 + 80 bytes
    cache.put("b", _bag(10))
    cache.put("c", _bag(10))
    assert cache.get("a") is None and cache.get("c") is not None


def test_check_bags_collects_problems(pt_root):
    write_pt(pt_root / "pt_files" / f"{SLIDE}.pt", torch.zeros(0, 8))
    seen = []
    problems = load_cohort(pt_root).check_bags(progress=lambda i, n: seen.append((i, n)))
    assert list(problems) == ["CASE-001"] and "empty" in problems["CASE-001"]
    assert seen[-1] == (3, 3)


def test_unreadable_zip_next_to_labels_is_not_a_label_candidate(pt_root):
    (pt_root / "slides.zip").write_bytes(b"PK not really")
    assert len(load_cohort(pt_root).patients) == 3


def test_feature_file_symlinked_out_of_cohort_refused(pt_root, tmp_path):
    outside = write_pt(tmp_path / "elsewhere.pt", torch.ones(3, 8))
    target = pt_root / "pt_files" / f"{SLIDE}.pt"
    target.unlink()
    target.symlink_to(outside)
    with pytest.raises(InputError, match="outside the cohort folder"):
        load_cohort(pt_root)
