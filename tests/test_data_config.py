"""Cohort files (TOML / YAML), discovery of a folder's files, and path safety."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from memamba_core.data import load_cohort
from memamba_core.data.config import resolve_config
from memamba_core.errors import InputError
from tests._cohort_fixtures import make_clam_cohort


@pytest.fixture
def root(tmp_path):
    return make_clam_cohort(tmp_path, n_patients=4, with_pt=False, n_splits=2)


def _move_into_data(root):
    data = root / "data"
    data.mkdir()
    for name in ("labels.csv", "signatures.csv", "h5_files", "splits"):
        shutil.move(root / name, data / name)
    return data


def test_toml_names_every_path(root):
    _move_into_data(root)
    (root / "my.toml").write_text(
        'name = "Mine"\nlabels = "data/labels.csv"\nsignatures = "data/signatures.csv"\n'
        'h5_dir = "data/h5_files"\nsplits = "data/splits"\nfeature_dim = 8\n'
    )
    cohort = load_cohort(root / "my.toml")
    assert cohort.name == "Mine" and len(cohort.patients) == 4 and len(cohort.splits) == 2
    assert cohort.groups.sizes == (10, 5) and cohort.feature_dim() == 8
    assert cohort.load_bag("CASE-000").n_patches == 9
    assert cohort.config.source == (root / "my.toml").resolve()


def test_yaml_with_split_list(root):
    _move_into_data(root)
    (root / "cohort.yaml").write_text(
        "labels: data/labels.csv\nsignatures: data/signatures.csv\nsplits: [data/splits/splits_1.csv]\n"
    )
    cohort = load_cohort(root)  # a folder holding cohort.yaml uses it
    assert len(cohort.splits) == 1 and cohort.splits[0].val == ("CASE-001", "CASE-003")
    assert cohort.summary().modalities["pathology"] == 0


def test_toml_root_key(tmp_path, root):
    (tmp_path / "elsewhere.toml").write_text(f'root = "{root.name}"\n')
    assert len(load_cohort(tmp_path / "elsewhere.toml").patients) == 4


@pytest.mark.parametrize("key, value", [("labels", "../outside.csv"), ("h5_dir", "/etc"), ("splits", ["../x.csv"])])
def test_path_outside_cohort_folder(root, key, value):
    (root.parent / "outside.csv").write_text("case_id\n")
    v = f'"{value}"' if isinstance(value, str) else str(value).replace("'", '"')
    (root / "cohort.toml").write_text(f"{key} = {v}\n")
    with pytest.raises(InputError, match="outside the cohort folder"):
        load_cohort(root)


def test_symlink_out_of_cohort_refused(root, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("case_id,slide_id,survival_months,censorship\n")
    (root / "link.csv").symlink_to(secret)
    (root / "cohort.toml").write_text('labels = "link.csv"\n')
    with pytest.raises(InputError, match="outside the cohort folder"):
        load_cohort(root)


def test_unknown_key(root):
    (root / "cohort.toml").write_text('label = "labels.csv"\n')
    with pytest.raises(InputError, match=r"cohort\.toml: unknown key\(s\) 'label'"):
        load_cohort(root)


def test_named_file_missing(root):
    (root / "cohort.toml").write_text('labels = "nope.csv"\n')
    with pytest.raises(InputError, match=r"labels = 'nope.csv' is not an existing file"):
        load_cohort(root)


def test_both_signatures_and_pathways(root):
    (root / "pathways.csv").write_text("gene,P\nGENE0,1\n")
    (root / "cohort.toml").write_text('signatures = "signatures.csv"\npathways = "pathways.csv"\n')
    with pytest.raises(InputError, match="not both"):
        load_cohort(root)


def test_bad_toml_syntax(root):
    (root / "cohort.toml").write_text("labels = \n")
    with pytest.raises(InputError, match=r"cohort\.toml: not valid TOML"):
        load_cohort(root)


def test_bad_feature_dim(root):
    (root / "cohort.toml").write_text("feature_dim = -3\n")
    with pytest.raises(InputError, match="feature_dim must be a positive integer"):
        load_cohort(root)


def test_nonexistent_path(tmp_path):
    with pytest.raises(InputError, match="no such cohort folder"):
        load_cohort(tmp_path / "missing")


def test_wrong_file_type(root):
    with pytest.raises(InputError, match="a cohort is a folder or a .toml/.yaml"):
        load_cohort(root / "labels.csv")


def test_no_label_csv(root):
    (root / "labels.csv").unlink()
    with pytest.raises(InputError, match="no label CSV found"):
        load_cohort(root)


def test_several_label_candidates(root):
    shutil.copy(root / "labels.csv", root / "labels_copy.csv")
    with pytest.raises(InputError, match=r"several tables could be the label CSV.*labels = "):
        load_cohort(root)


def test_extra_table_without_labels_is_ignored(root):
    pd.DataFrame({"a": [1]}).to_csv(root / "notes.csv")
    assert resolve_config(root).labels.name == "labels.csv"


def test_docs_example_cohort_file_uses_known_keys():
    import re
    import tomllib
    from pathlib import Path

    from memamba_core.data.config import _KEYS

    text = (Path(__file__).resolve().parents[1] / "docs" / "data.md").read_text()
    block = re.search(r"```toml\n(.*?)```", text, re.S).group(1)
    keys = set(tomllib.loads(block.replace("# genomics", "genomics")))
    assert keys and keys <= _KEYS
