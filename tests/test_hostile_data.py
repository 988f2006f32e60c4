"""Issue 14, data layer: careless and hostile cohort inputs get a clear InputError, never a traceback.

Each case names the file and says what to fix; messages quote at most a short
preview of user text (no 4 KB header dumps).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from memamba_core.data import GenomicScaler, load_cohort
from memamba_core.errors import InputError
from tests._cohort_fixtures import make_clam_cohort, make_survpath_cohort


@pytest.fixture
def root(tmp_path):
    return make_clam_cohort(tmp_path, n_patients=4, with_pt=False)


def _labels(root):
    return pd.read_csv(root / "labels.csv", index_col=0)


# ---- delimiters -----------------------------------------------------------------------------------
@pytest.mark.parametrize("sep, kind", [(";", "semicolon"), ("\t", "tab")])
def test_label_csv_with_another_delimiter(root, sep, kind):
    _labels(root).to_csv(root / "labels.csv", sep=sep)
    with pytest.raises(InputError) as e:
        load_cohort(root)
    msg = str(e.value)
    assert f"labels.csv: this looks {kind}-delimited" in msg and "save it comma-separated" in msg
    assert len(msg) < 400  # the 40-column header is not dumped


def test_semicolon_table_with_decimal_commas(root):
    # European spreadsheets: ';' between fields and ',' as the decimal mark (a parser error, not one column)
    text = _labels(root).to_csv(sep=";", decimal=",")
    (root / "labels.csv").write_text(text)
    with pytest.raises(InputError, match=r"labels\.csv: this looks semicolon-delimited"):
        load_cohort(root)


def test_tab_delimited_rna_table(tmp_path):
    root = make_survpath_cohort(tmp_path)
    rna = root / "datasets_csv/raw_rna_data/xena/test/rna_clean.csv"
    pd.read_csv(rna, index_col=0).to_csv(rna, sep="\t")
    with pytest.raises(InputError, match=r"rna_clean\.csv: this looks tab-delimited"):
        load_cohort(root)


def test_semicolon_signatures(root):
    pd.read_csv(root / "signatures.csv").to_csv(root / "signatures.csv", sep=";", index=False)
    with pytest.raises(InputError, match=r"signatures\.csv: this looks semicolon-delimited"):
        load_cohort(root)


def test_a_huge_header_is_not_dumped(root):
    cols = [f"{'X' * 200}_{j}" for j in range(20)]
    pd.DataFrame([[1] * 20], columns=cols).to_csv(root / "labels.csv", index=False)
    with pytest.raises(InputError, match="missing required column") as e:
        load_cohort(root)
    assert len(str(e.value)) < 1200


def test_binary_garbage_as_labels(root):
    (root / "labels.csv").write_bytes(os.urandom(2048))
    with pytest.raises(InputError, match=r"labels\.csv"):
        load_cohort(root)


# ---- non-finite genomic values --------------------------------------------------------------------
@pytest.mark.parametrize("value", [np.inf, -np.inf, 1e39])
def test_infinite_genomic_values_in_the_label_csv(root, value):
    df = _labels(root)
    df.loc[[1, 3], "GENE2_rnaseq"] = value
    df.to_csv(root / "labels.csv")
    with pytest.raises(InputError) as e:
        load_cohort(root)
    msg = str(e.value)
    assert "labels.csv" in msg and "2 infinite (or out-of-range) genomic value(s) in 1 column(s)" in msg
    assert "'GENE2_rnaseq' has 2, data rows 2, 4" in msg and "empty those cells to mark them missing" in msg


def test_infinite_values_in_the_rna_table(tmp_path):
    root = make_survpath_cohort(tmp_path)
    rna = root / "datasets_csv/raw_rna_data/xena/test/rna_clean.csv"
    df = pd.read_csv(rna, index_col=0)
    df.iloc[0, 0] = -np.inf
    df.iloc[2, 5] = np.inf
    df.to_csv(rna)
    with pytest.raises(InputError, match=r"rna_clean\.csv: 2 infinite .* in 2 column\(s\) \(G0_rnaseq, G5_rnaseq; 'G0_rnaseq' has 1"):
        load_cohort(root)


# ---- the scaler names its file --------------------------------------------------------------------
def test_scaler_error_names_the_file(tmp_path):
    meta = tmp_path / "fold_0" / "fold_record.json"
    with pytest.raises(InputError, match=r"fold_0/fold_record\.json: genomic scaler: columns \(1\), mean \(2\)"):
        GenomicScaler.from_dict({"columns": ["a"], "mean": [0, 1], "std": [1]}, source=meta)
    with pytest.raises(InputError, match=r"fold_record\.json: genomic scaler: 2 mean/std value\(s\) are not finite"):
        GenomicScaler.from_dict(json.loads('{"columns": ["a", "b"], "mean": [NaN, 0], "std": [1, 0]}'), source=meta)
    with pytest.raises(InputError, match=r"fold_record\.json: genomic scaler: expected keys columns, mean, std"):
        GenomicScaler.from_dict({"columns": ["a"], "mean": ["x"], "std": [1]}, source=meta)
    with pytest.raises(InputError, match=r"genomic scaler \(no file named\)"):
        GenomicScaler.from_dict({"columns": 3})


# ---- paths that are no cohort ---------------------------------------------------------------------
def test_the_filesystem_root_as_a_cohort(tmp_path):
    with pytest.raises(InputError, match=r"^/: the file-system root cannot be a cohort folder.*give the folder that holds"):
        load_cohort("/")
    (tmp_path / "c.toml").write_text('root = "/"\n')
    with pytest.raises(InputError, match=r"c\.toml: root = '/' — /: the file-system root cannot be a cohort folder"):
        load_cohort(tmp_path / "c.toml")


def test_a_folder_with_a_blank_name(tmp_path):
    blank = make_clam_cohort(tmp_path, with_pt=False, name="   ")
    with pytest.raises(InputError, match=r"the folder has no usable name; set name = "):
        load_cohort(blank)
    (blank / "cohort.toml").write_text('name = "Blank"\n')
    assert load_cohort(blank).name == "Blank"


@pytest.mark.parametrize("value", ["  ", 5, ["x"]])
def test_bad_name_key(root, value):
    (root / "cohort.toml").write_text(f"name = {json.dumps(value)}\n")
    with pytest.raises(InputError, match=r"'name' must be non-empty text, e\.g\. name = \"TCGA-STAD\""):
        load_cohort(root)


@pytest.mark.parametrize("value", ["a\\u0000b.csv", "x" * 5000, "~no_such_user_xyz/labels.csv"])
def test_paths_the_os_cannot_use(root, value):
    (root / "cohort.toml").write_text(f'labels = "{value}"\n')
    with pytest.raises(InputError, match=r"cohort\.toml: labels"):
        load_cohort(root)


def test_yaml_with_odd_keys(root):
    (root / "cohort.yaml").write_text("1: a\nnull: b\nlabels: labels.csv\n")
    with pytest.raises(InputError, match=r"unknown key\(s\) 1, None"):
        load_cohort(root)


# ---- slides: one bad symlink does not hide the others ---------------------------------------------
def test_a_slide_symlink_leaving_the_cohort_affects_only_that_slide(root, tmp_path):
    (root / "slides").mkdir()
    outside = tmp_path / "elsewhere.svs"
    outside.write_bytes(b"x")
    (root / "slides" / "CASE-000-DX1.svs").symlink_to(outside)
    (root / "slides" / "CASE-001-DX1.svs").write_bytes(b"y")
    cohort = load_cohort(root)
    with pytest.raises(InputError, match=r"slide file CASE-000-DX1\.svs .* outside the cohort folder"):
        cohort.slide_path("CASE-000-DX1.svs")
    assert cohort.slide_path("CASE-001-DX1.svs") == (root / "slides" / "CASE-001-DX1.svs").resolve()
    with pytest.raises(InputError):
        cohort.slide_path("CASE-000-DX1.svs")  # still refused, still no effect on others
    assert cohort.slide_path("CASE-001-DX1.svs") is not None


def test_gene_groups_record_errors_name_the_file(tmp_path):
    from memamba_core.data import GeneGroups

    meta = tmp_path / "fold_record.json"
    good = {"names": ["a"], "columns": [["X_rnaseq"]]}
    assert GeneGroups.from_dict(good, source=meta).sizes == (1,)
    for bad in ({"names": ["a"]}, {"names": ["a", "b"], "columns": [["X"]]}, {"names": [1], "columns": [["X"]]},
                {"names": ["a"], "columns": "X"}, []):
        with pytest.raises(InputError, match=r"fold_record\.json: gene groups"):
            GeneGroups.from_dict(bad, source=meta)
