"""Feature files exactly as CLAM and TRIDENT write them load without configuration, at every common width.

The writers below follow the published code: CLAM's ``save_hdf5`` (``utils/file_utils.py``:
datasets chunked 32 rows, unlimited first axis, appended batch by batch; the feature
files of ``extract_features_fp.py`` carry no attributes, coords int32; ``create_patches_fp.py``
puts ``patch_size``, ``patch_level``, ``downsample``, ``level_dim``, ``name`` on ``coords``)
and TRIDENT's ``save_h5`` (``trident/IO.py``: chunks of one row; ``coords`` attributes from
``coords_to_h5``, ``None`` written as ``'None'``; ``features`` attributes ``name``,
``savetodir``, ``encoder``; ``saveas='pt'`` pickles the numpy array with ``torch.save``).
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch

from memamba_core.data import load_cohort
from memamba_core.errors import InputError
from memamba_core.slides import PatchGeometry, grid_step, read_patch_h5
from tests._cohort_fixtures import make_clam_cohort

SLIDE = "CASE-001-DX1"
WIDTHS = {"resnet50_trunc": 1024, "ctranspath": 768, "uni_v1": 1024, "uni_v2": 1536, "conch_v1": 512}


def _clam_save_hdf5(path, asset_dict, attr_dict=None, mode="a", chunk_size=32):
    """CLAM's utils/file_utils.save_hdf5, as published."""
    with h5py.File(path, mode) as file:
        for key, val in asset_dict.items():
            if key not in file:
                dset = file.create_dataset(key, shape=val.shape, maxshape=(None,) + val.shape[1:],
                                           chunks=(chunk_size,) + val.shape[1:], dtype=val.dtype)
                dset[:] = val
                for k, v in (attr_dict or {}).get(key, {}).items():
                    dset.attrs[k] = v
            else:
                dset = file[key]
                dset.resize(len(dset) + val.shape[0], axis=0)
                dset[-val.shape[0]:] = val


def _trident_save_h5(path, assets, attributes=None, mode="w"):
    """TRIDENT's trident/IO.save_h5, as published (dict attributes as JSON, None as 'None')."""
    with h5py.File(path, mode) as file:
        for key, val in assets.items():
            dset = file.create_dataset(key, shape=val.shape, maxshape=(None,) + val.shape[1:],
                                       chunks=(1,) + val.shape[1:], dtype=val.dtype)
            dset[:] = val
            for k, v in (attributes or {}).get(key, {}).items():
                dset.attrs[k] = json.dumps(v) if isinstance(v, dict) else ("None" if v is None else v)


def _grid(n: int, step: int) -> np.ndarray:
    i = np.arange(n)
    return np.stack([(i % 5) * step + 1000, (i // 5) * step + 2000], 1)


def _feats(n: int, d: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def _cohort(tmp_path, folder: str = "h5_files", toml: str = ""):
    """A 3-patient cohort whose feature files the test writes; returns (root, {stem: path})."""
    root = make_clam_cohort(tmp_path, n_patients=3, with_pt=False, with_h5=False)
    (root / folder).mkdir(parents=True)
    if toml:
        (root / "cohort.toml").write_text(toml)
    stems = ["CASE-000-DX1", "CASE-000-DX2", "CASE-001-DX1", "CASE-002-DX1"]
    return root, {s: root / folder / f"{s}.h5" for s in stems}


@pytest.mark.parametrize("encoder", sorted(WIDTHS))
def test_clam_feature_files_as_extract_features_fp_writes_them(tmp_path, encoder):
    d = WIDTHS[encoder]
    root, files = _cohort(tmp_path)
    for k, path in enumerate(files.values()):
        coords, feats = _grid(40, 256).astype(np.int32), _feats(40, d, k)
        for a, b, mode in ((0, 32, "w"), (32, 40, "a")):   # two loader batches, appended
            _clam_save_hdf5(path, {"features": feats[a:b], "coords": coords[a:b]}, None, mode=mode)
    cohort = load_cohort(root)
    assert cohort.feature_dim() == d
    bag = cohort.load_bag("CASE-001")
    assert bag.features.shape == (40, d) and bag.features.dtype == torch.float32
    np.testing.assert_array_equal(bag.coords, _grid(40, 256))
    np.testing.assert_allclose(bag.features.numpy(), _feats(40, d, 2))
    g = bag.geometry(0)
    assert (g.patch_size, g.patch_level, g.size0, g.step0) == (None, None, None, 256)
    assert g.side0() == 256 and g.source == "grid step of the coordinates"


def test_clam_coords_attributes_of_create_patches_fp(tmp_path):
    root, files = _cohort(tmp_path)
    attrs = {"patch_size": 256, "patch_level": 1, "downsample": np.array([4.0, 4.0]),
             "downsampled_level_dim": np.array([5000, 4000]), "level_dim": np.array([5000, 4000]),
             "name": SLIDE, "save_path": "/data/patches"}
    for k, path in enumerate(files.values()):
        _clam_save_hdf5(path, {"features": _feats(12, 1024, k), "coords": _grid(12, 1024).astype(np.int32)},
                        {"coords": attrs}, mode="w")
    g = load_cohort(root).load_bag("CASE-001").geometry(0)
    assert (g.patch_size, g.patch_level, g.size0) == (256, 1, 1024) and g.source == "patch_size × downsample"


@pytest.mark.parametrize("encoder", sorted(WIDTHS))
def test_trident_feature_files_in_their_own_folder(tmp_path, encoder):
    d = WIDTHS[encoder]
    folder = f"trident_processed/20x_256px_0px_overlap/features_{encoder}"
    root, files = _cohort(tmp_path, folder, toml=f'h5_dir = "{folder}"\n')
    for k, (stem, path) in enumerate(files.items()):
        coords = _grid(15, 512).astype(np.int64)
        coords_attrs = {"patch_size": 256, "patch_size_level0": 256 * 40 // 20, "level0_magnification": 40,
                        "target_magnification": 20, "overlap": 0, "name": stem, "savetodir": None,
                        "level0_width": 20000, "level0_height": 16000}
        _trident_save_h5(path, {"features": _feats(15, d, k), "coords": coords},
                         {"features": {"name": stem, "savetodir": folder, "encoder": encoder}, "coords": coords_attrs})
    cohort = load_cohort(root)
    assert cohort.feature_dim() == d
    bag = cohort.load_bag("CASE-000")
    assert bag.features.shape == (30, d) and bag.slide_ids == ("CASE-000-DX1.svs", "CASE-000-DX2.svs")
    for i in (0, 1):
        g = bag.geometry(i)
        assert (g.size0, g.patch_size, g.patch_level, g.level0_size) == (512, 256, None, (20000, 16000))
    raw = read_patch_h5(files["CASE-000-DX1"], "fix")
    assert raw.attrs["encoder"] == encoder and raw.attrs["savetodir"] == "None"   # the merged attributes


def test_trident_pt_is_a_pickled_numpy_array(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=3, with_h5=False, feature_dim=512)
    for k, p in enumerate(sorted((root / "pt_files").glob("*.pt"))):
        torch.save(_feats(7, 512, k), p)                              # TRIDENT: torch.save(features ndarray)
    bag = load_cohort(root).load_bag("CASE-001")
    assert bag.features.shape == (7, 512) and bag.features.dtype == torch.float32 and bag.coords is None
    np.testing.assert_allclose(bag.features.numpy(), _feats(7, 512, 2))


def test_a_pickled_object_array_is_still_refused(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=3, with_h5=False)
    torch.save(np.array([{"x": 1}, "y"], dtype=object), root / "pt_files" / f"{SLIDE}.pt")
    with pytest.raises(InputError, match=rf"{SLIDE}.pt: cannot be read as a PyTorch tensor file"):
        load_cohort(root).load_bag("CASE-001")


def test_leading_batch_axis_is_dropped(tmp_path):
    root, files = _cohort(tmp_path)
    for k, path in enumerate(files.values()):
        with h5py.File(path, "w") as f:
            f.create_dataset("features", data=_feats(6, 768, k)[None])
            f.create_dataset("coords", data=_grid(6, 256)[None])
    bag = load_cohort(root).load_bag("CASE-001")
    assert bag.features.shape == (6, 768) and bag.coords.shape == (6, 2)


def test_trident_empty_slide_is_reported_as_empty(tmp_path):
    root, files = _cohort(tmp_path)
    for k, path in enumerate(files.values()):
        _trident_save_h5(path, {"features": _feats(5, 1536, k), "coords": _grid(5, 256)})
    with h5py.File(files[SLIDE], "w") as f:                          # TRIDENT's file for a slide without tissue
        f.create_dataset("features", data=np.empty((0,), np.float32))
        f.create_dataset("coords", data=np.empty((0, 2), np.int64))
    with pytest.raises(InputError, match=rf"{SLIDE}.h5: the bag is empty \(0 patches\)"):
        load_cohort(root).load_bag("CASE-001")


@pytest.mark.parametrize("attr, value", [("patch_size_level0", -512), ("patch_size", "big"), ("patch_level", 1.5),
                                         ("patch_size_level0", np.nan)])
def test_a_bad_geometry_attribute_names_file_and_attribute(tmp_path, attr, value):
    root, files = _cohort(tmp_path)
    for k, path in enumerate(files.values()):
        _trident_save_h5(path, {"features": _feats(5, 8, k), "coords": _grid(5, 256)},
                         {"coords": {"patch_size": 256, attr: value} if attr != "patch_size" else {attr: value}})
    with pytest.raises(InputError, match=rf"{SLIDE}.h5: attribute '{attr}' is .*re-create the file"):
        load_cohort(root).load_bag("CASE-001")


def test_geometry_from_attrs_and_grid_step():
    assert grid_step(np.array([[0, 0], [512, 0], [1536, 512]])) == 512
    assert grid_step(np.array([[10, 10]])) is None
    assert PatchGeometry.from_attrs({"patch_size": 224, "level0_magnification": 40, "target_magnification": 20}).size0 == 448
    g = PatchGeometry.from_attrs({"patch_size": 256, "patch_level": 2})
    assert g.side0((1.0, 4.0, 16.0)) == 4096 and g.side0() is None and g.known
    assert PatchGeometry.from_attrs({"patch_size": b"256", "patch_size_level0": "None"}).side0() == 256
    assert not PatchGeometry.from_attrs({}).known and PatchGeometry().side0() is None
