"""Folder extraction: CLAM .pt/.h5 layout round trip, resume, progress, failures."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from memamba_core.demo.render import SlideSpec, make_layout, paint_level0, write_pyramid_tiff
from memamba_core.demo.textures import make_texture_bank
from memamba_core.errors import InputError
from memamba_core.features import (
    ResNet50Trunc, builtin_encoder, extract_folder, is_done, list_slides, load_encoder, slide_id_of,
)
from memamba_core.slides import read_clam_h5


@pytest.fixture(scope="module")
def slide_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("wsi")
    bank = make_texture_bank(9, 256)
    for i, name in enumerate(["A-01.tif", "B-02.tiff"]):
        spec = SlideSpec(name, 1280, 1024, 0.4, seed=20 + i)
        write_pyramid_tiff(d / name, paint_level0(spec, make_layout(spec), bank), mpp=0.5)
    (d / "notes.txt").write_text("not a slide")
    return d


def test_list_and_ids(slide_dir):
    assert [p.name for p in list_slides(slide_dir)] == ["A-01.tif", "B-02.tiff"]
    assert slide_id_of("x/TCGA-AB.svs") == "TCGA-AB" and slide_id_of("y.ome.tiff") == "y.ome"


def test_clam_layout_round_trip(slide_dir, tmp_path):
    enc = builtin_encoder()
    calls = []
    rep = extract_folder(slide_dir, tmp_path, enc, batch_size=16, progress=lambda f, m: calls.append((f, m)))
    assert rep.done == ["A-01", "B-02"] and not rep.failed and not rep.skipped
    fr = [f for f, _ in calls]
    assert fr == sorted(fr) and fr[-1] == pytest.approx(1.0) and 0 <= fr[0]
    for sid in rep.done:
        pt = torch.load(tmp_path / "pt_files" / f"{sid}.pt", weights_only=True)
        feats, coords, attrs = read_clam_h5(tmp_path / "h5_files" / f"{sid}.h5")
        assert pt.dtype == torch.float32 and pt.shape == (rep.n_patches[sid], 256)
        assert np.array_equal(pt.numpy(), feats)
        assert coords.dtype == np.int64 and coords.shape == (len(pt), 2)
        assert attrs["patch_size"] == 256 and attrs["patch_level"] == 0 and attrs["encoder"] == "builtin-v1"
        with h5py.File(tmp_path / "h5_files" / f"{sid}.h5", "r") as f:  # CLAM: attrs on the coords dataset
            assert set(f) == {"features", "coords"}
            assert f["coords"].attrs["patch_size"] == 256 and f["coords"].attrs["patch_level"] == 0
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temporaries


def test_same_pixels_same_features(slide_dir, tmp_path):
    a = extract_folder([slide_dir / "A-01.tif"], tmp_path / "a", builtin_encoder())
    b = extract_folder([slide_dir / "A-01.tif"], tmp_path / "b", builtin_encoder(), batch_size=5)
    fa = torch.load(tmp_path / "a" / "pt_files" / "A-01.pt", weights_only=True)
    fb = torch.load(tmp_path / "b" / "pt_files" / "A-01.pt", weights_only=True)
    assert a.n_patches == b.n_patches and torch.allclose(fa, fb, atol=1e-5)


def test_resume_skips_done_and_redoes_other_encoder(slide_dir, tmp_path):
    enc = builtin_encoder()
    extract_folder([slide_dir / "A-01.tif"], tmp_path, enc)
    before = (tmp_path / "pt_files" / "A-01.pt").stat().st_mtime_ns
    rep = extract_folder(slide_dir, tmp_path, enc)
    assert rep.skipped == ["A-01"] and rep.done == ["B-02"]
    assert (tmp_path / "pt_files" / "A-01.pt").stat().st_mtime_ns == before
    # a half-written slide (only the .h5) is not done
    (tmp_path / "pt_files" / "B-02.pt").unlink()
    assert not is_done(tmp_path, "B-02", enc)
    assert extract_folder(slide_dir, tmp_path, enc).done == ["B-02"]
    # features from another encoder are not reused
    torch.save(ResNet50Trunc(width=4).state_dict(), tmp_path / "r4.pth")
    other = load_encoder("resnet50_trunc", tmp_path / "r4.pth")
    rep = extract_folder([slide_dir / "A-01.tif"], tmp_path, other, batch_size=8)
    assert rep.done == ["A-01"]
    assert torch.load(tmp_path / "pt_files" / "A-01.pt", weights_only=True).shape[1] == 64
    assert extract_folder([slide_dir / "A-01.tif"], tmp_path, other, overwrite=True).done == ["A-01"]


def test_bad_slide_is_reported_and_others_go_on(slide_dir, tmp_path):
    broken = tmp_path / "in" / "C-03.svs"
    broken.parent.mkdir()
    broken.write_bytes((slide_dir / "A-01.tif").read_bytes()[:3000])
    rep = extract_folder([broken, slide_dir / "A-01.tif"], tmp_path / "out", builtin_encoder())
    assert rep.done == ["A-01"]
    assert "C-03.svs" in rep.failed["C-03"]
    assert not (tmp_path / "out" / "pt_files" / "C-03.pt").exists()


def test_blank_slide_has_no_patches(tmp_path):
    write_pyramid_tiff(tmp_path / "s" / "blank.tif", np.full((768, 768, 3), 244, np.uint8), mpp=0.5)
    rep = extract_folder(tmp_path / "s", tmp_path / "out", builtin_encoder())
    assert "no tissue patch" in rep.failed["blank"] and not rep.done


def test_folder_errors(tmp_path, slide_dir):
    with pytest.raises(InputError, match="no such folder"):
        extract_folder(tmp_path / "absent", tmp_path / "out", builtin_encoder())
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no slide files"):
        extract_folder(tmp_path / "empty", tmp_path / "out", builtin_encoder())
    with pytest.raises(InputError, match="appear twice"):
        extract_folder([slide_dir / "A-01.tif", slide_dir / "A-01.tif"], tmp_path / "out", builtin_encoder())
    with pytest.raises(InputError, match="batch_size"):
        extract_folder([slide_dir / "A-01.tif"], tmp_path / "out", builtin_encoder(), batch_size=0)
