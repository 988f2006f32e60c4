"""D_in inferred from the feature files: the encoders' widths without configuration, robust to odd files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from memamba_core.data import load_cohort
from memamba_core.data.widths import probe_width
from memamba_core.errors import InputError
from tests._cohort_fixtures import make_clam_cohort, write_h5, write_pt

ENCODERS = {"CONCH": 512, "CTransPath": 768, "ResNet50 / UNI": 1024, "UNI2": 1536}


def _rewrite(root, slide_stem, width, *, kind="h5", n=3):
    feats = np.random.default_rng(0).normal(size=(n, width)).astype(np.float32)
    if kind == "h5":
        write_h5(root / "h5_files" / f"{slide_stem}.h5", feats, np.zeros((n, 2), dtype=np.int64))
    else:
        write_pt(root / "pt_files" / f"{slide_stem}.pt", torch.from_numpy(feats))


@pytest.mark.parametrize("width", ENCODERS.values(), ids=ENCODERS.keys())
@pytest.mark.parametrize("kind", ["h5", "pt"])
def test_encoder_widths_without_configuration(tmp_path, width, kind):
    root = make_clam_cohort(tmp_path, n_patients=3, feature_dim=width, with_h5=kind == "h5", with_pt=kind == "pt")
    cohort = load_cohort(root)
    assert cohort.feature_dim() == width == cohort.summary().feature_dim
    assert cohort.load_bag("CASE-000").features.shape == (9, width)
    assert not any("disagree" in i for i in cohort.issues)


def test_a_first_file_of_the_wrong_width_does_not_blame_the_others(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=5, feature_dim=16, with_pt=False)
    _rewrite(root, "CASE-000-DX1", 24)  # the very first slide was encoded with another encoder
    cohort = load_cohort(root)
    assert cohort.feature_dim() == 16
    odd = [i for i in cohort.issues if "disagree on the feature width" in i]
    assert len(odd) == 1 and "CASE-000-DX1.h5" in odd[0] and "5 of 6 probed are 16 wide" in odd[0]
    assert cohort.load_bag("CASE-003").features.shape[1] == 16  # correct files load
    with pytest.raises(InputError, match=r"CASE-000-DX1\.h5: features are 24 wide but the cohort's feature width is 16"):
        cohort.load_bag("CASE-000")
    assert set(cohort.check_bags()) == {"CASE-000"}


def test_a_tie_is_reported_and_feature_dim_decides(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=2, feature_dim=16, with_pt=False, multi_slide_case=False)
    _rewrite(root, "CASE-001-DX1", 32)
    cohort = load_cohort(root)
    assert any("a tie: set feature_dim" in i for i in cohort.issues)
    (root / "cohort.toml").write_text("feature_dim = 32\n")
    cohort = load_cohort(root)
    assert cohort.feature_dim() == 32 and cohort.load_bag("CASE-001").features.shape[1] == 32


def test_unreadable_files_are_skipped_by_the_probe(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=3, feature_dim=12, with_h5=False)
    (root / "pt_files" / "CASE-000-DX1.pt").write_bytes(b"not a tensor file")
    cohort = load_cohort(root)
    assert cohort.feature_dim() == 12
    with pytest.raises(InputError, match=r"CASE-000-DX1\.pt: cannot be read as a PyTorch tensor file"):
        cohort.load_bag("CASE-000")


def test_batch_axis_and_legacy_pt(tmp_path):
    a = write_h5(tmp_path / "a.h5", np.zeros((1, 4, 768), np.float32), None)
    b = tmp_path / "b.pt"
    torch.save(torch.zeros(4, 512), b, _use_new_zipfile_serialization=False)  # cannot be memory-mapped
    probe = probe_width([a, b, b])
    assert probe.widths == {a: 768, b: 512} and probe.width in (512, 768)


def test_probe_samples_large_cohorts(tmp_path):
    files = [write_pt(tmp_path / f"s{i}.pt", torch.zeros(1, 8 if i % 7 else 4)) for i in range(100)]
    probe = probe_width(files, max_probed=20)
    assert probe.width == 8 and len(probe.widths) == 20
    assert probe_width([]).width is None
