"""Every published layout read as is: SurvPath / PIBD, MCAT / MOTCat / CMTA, and a one-cohort folder.

Each is written by the test in the exact file layout of its repository (see
``tests/_cohort_fixtures.py``), loaded without a cohort file where the folder
structure is unambiguous, and through a cohort file elsewhere (``root``).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from memamba_core.data import load_cohort
from memamba_core.errors import InputError
from tests._cohort_fixtures import make_clam_cohort, make_mcat_repo, make_survpath_cohort, survpath_gene_names


def _digest(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


# ---- SurvPath / PIBD ----------------------------------------------------------------------------
def test_survpath_found_without_a_cohort_file(tmp_path):
    root = make_survpath_cohort(tmp_path)
    before = _digest(root)
    cohort = load_cohort(root)
    assert cohort.config.layout == "survpath" and cohort.name == "TCGA-TEST"
    assert len(cohort.patients) == 12 and cohort.patient("P-000").slide_ids == ("P-000-01Z-00-DX1.svs", "P-000-01Z-00-DX2.svs")
    assert (cohort.config.rna_source, cohort.config.pathway_set) == ("xena", "xena")
    assert cohort.groups.names == ("R0", "R1", "R2", "R3") and cohort.groups.sizes == (3, 3, 3, 3)
    assert cohort.groups.columns[0] == ("G0_rnaseq", "G4_rnaseq", "G8_rnaseq")  # plain symbols read as RNA
    assert len(cohort.splits) == 5 and cohort.splits[1].val == ("P-001", "P-006", "P-011")
    assert cohort.endpoints == ("os", "dss", "pfi") and "stage" in cohort.clinical_columns
    assert _digest(root) == before


def test_survpath_rna_values_keyed_by_the_unnamed_first_column(tmp_path):
    root = make_survpath_cohort(tmp_path)
    rna = pd.read_csv(root / "datasets_csv/raw_rna_data/xena/test/rna_clean.csv", index_col=0)
    cohort = load_cohort(root)
    raw = cohort.genomic_matrix(["P-005"])[0]
    cols = [c[: -len("_rnaseq")] for c in cohort.genomic_columns]
    np.testing.assert_allclose(raw, rna.loc["P-005", cols].to_numpy(np.float32))
    assert any("2 of 14 case id(s) match no patient" in i and "EXTRA-0" in i for i in cohort.issues)


def test_survpath_hallmarks_through_a_cohort_file_elsewhere(tmp_path):
    root = make_survpath_cohort(tmp_path / "data")
    (tmp_path / "hallmarks.toml").write_text(f'root = "{root}"\npathway_set = "hallmarks"\nname = "H"\n')
    cohort = load_cohort(tmp_path / "hallmarks.toml")
    assert cohort.name == "H" and cohort.config.pathway_set == "hallmarks"
    assert cohort.groups.names == ("HALLMARK_A", "HALLMARK_B") and cohort.groups.sizes == (6, 2)
    r = cohort.groups_report
    assert (r.n_listed, r.n_kept, r.genes_listed, r.genes_matched) == (3, 2, 12, 8)
    assert any("8 of its 12 genes" in i for i in cohort.issues)
    assert any("'HALLMARK_EMPTY'" in i and "dropped" in i for i in cohort.issues)


def test_pibd_signatures_instead_of_compositions(tmp_path):
    root = make_survpath_cohort(tmp_path, groups_style="signatures")
    cohort = load_cohort(root)
    assert cohort.config.pathway_set == "xena" and cohort.config.signatures.name == "xena_signatures.csv"
    assert cohort.groups.names == ("R0", "R1", "R2", "R3") and cohort.groups.sizes == (3, 3, 3, 3)


def test_several_rna_sources_default_to_xena_or_the_pathway_sets_own(tmp_path):
    sets = ("xena", "hallmarks", "combine")
    root = make_survpath_cohort(tmp_path, sources=sets, pathway_sets=sets)
    assert load_cohort(root).config.rna_source == "xena"
    (tmp_path / "c.toml").write_text(f'root = "{root}"\npathway_set = "combine"\n')
    cohort = load_cohort(tmp_path / "c.toml")
    assert (cohort.config.rna_source, cohort.groups.names) == ("combine", ("COMBINE_ALL",))
    (tmp_path / "c.toml").write_text(f'root = "{root}"\nrna_source = "hallmarks"\n')
    assert load_cohort(tmp_path / "c.toml").config.pathway_set == "hallmarks"


def test_several_rna_sources_without_a_default_say_which_key(tmp_path):
    root = make_survpath_cohort(tmp_path, sources=("hallmarks", "combine"), pathway_sets=("xena",))
    with pytest.raises(InputError, match=r"several RNA source.*\(combine, hallmarks\).*rna_source = \"combine\""):
        load_cohort(root)


@pytest.mark.parametrize("key, value, match", [
    ("rna_source", "reactome", r"rna_source = 'reactome' has no RNA source .*\(available: xena\)"),
    ("pathway_set", "kegg", r"pathway_set = 'kegg' has no pathway set here \(available: hallmarks, xena\)"),
    ("study", "tcga_luad", r"study = 'tcga_luad' is not in this SurvPath-layout folder; it has tcga_test"),
    ("study", "../x", r"'study' must be a plain name"),
])
def test_survpath_bad_choices(tmp_path, key, value, match):
    root = make_survpath_cohort(tmp_path)
    (root / "cohort.toml").write_text(f'{key} = "{value}"\n')
    with pytest.raises(InputError, match=match):
        load_cohort(root)


def test_a_repository_clone_with_several_studies_needs_study(tmp_path):
    root = make_survpath_cohort(tmp_path, study="tcga_stad", extra_studies=("tcga_blca", "tcga_brca"))
    with pytest.raises(InputError, match=r"several studies \(tcga_blca, tcga_brca, tcga_stad\).*study = \"tcga_blca\""):
        load_cohort(root)
    (tmp_path / "stad.toml").write_text(f'root = "{root}"\nstudy = "tcga_stad"\n')
    cohort = load_cohort(tmp_path / "stad.toml")
    assert cohort.name == "TCGA-STAD" and len(cohort.patients) == 12 and len(cohort.splits) == 5


def test_survpath_without_pathway_files_groups_rna_by_type(tmp_path):
    root = make_survpath_cohort(tmp_path, pathway_sets=())
    cohort = load_cohort(root)
    assert cohort.groups.names == ("rnaseq",) and cohort.groups.sizes == (12,)
    assert any("grouped by type" in i for i in cohort.issues)


def test_mcat_families_over_survpath_rna(tmp_path):
    root = make_survpath_cohort(tmp_path)
    genes = survpath_gene_names(12)
    pd.DataFrame({"Low": pd.Series(genes[:5]), "High": pd.Series(genes[5:])}).to_csv(
        root / "datasets_csv" / "metadata" / "signatures.csv", index=False)
    (root / "cohort.toml").write_text('signatures = "datasets_csv/metadata/signatures.csv"\n')
    cohort = load_cohort(root)
    assert cohort.groups.names == ("Low", "High") and cohort.groups.sizes == (5, 7)


def test_layout_keys_outside_the_survpath_layout_are_refused(tmp_path):
    root = make_clam_cohort(tmp_path, with_pt=False)
    (root / "cohort.toml").write_text('rna_source = "xena"\n')
    with pytest.raises(InputError, match=r"'rna_source' applies to the SurvPath / PIBD layout"):
        load_cohort(root)


# ---- MCAT / MOTCat / CMTA -------------------------------------------------------------------------
@pytest.mark.parametrize("csv_dir, suffix", [("datasets_csv_sig", ".csv.zip"), ("dataset_csv", ".csv.zip"), ("csv", ".zip")])
def test_mcat_family_repositories(tmp_path, csv_dir, suffix):
    root = make_mcat_repo(tmp_path, studies=("tcga_blca",), csv_dir=csv_dir, suffix=suffix)
    before = _digest(root)
    cohort = load_cohort(root)
    assert cohort.config.layout == "mcat" and cohort.name == "TCGA-BLCA"
    assert len(cohort.patients) == 8 and cohort.groups.sizes == (10, 5) and len(cohort.splits) == 5
    assert cohort.splits[0].val == ("CASE-000", "CASE-005")
    assert cohort.endpoints == ("os",) and cohort.clinical_columns == ("oncotree_code", "site", "age", "is_female")
    assert _digest(root) == before


def test_mcat_repository_with_several_studies(tmp_path):
    root = make_mcat_repo(tmp_path, studies=("tcga_blca", "tcga_brca"))
    with pytest.raises(InputError, match=r"MCAT-layout folder holds several studies \(tcga_blca, tcga_brca\)"):
        load_cohort(root)
    (tmp_path / "brca.toml").write_text(f'root = "{root}"\nstudy = "tcga_brca"\n')
    cohort = load_cohort(tmp_path / "brca.toml")
    assert cohort.name == "TCGA-BRCA" and len(cohort.patients) == 9
    assert cohort.config.labels.name == "tcga_brca_all_clean.csv.zip"
    assert {c for s in cohort.splits for c in s.val} == set(cohort.case_ids())


def test_flat_folder_of_several_mcat_tables_picks_by_study(tmp_path):
    root = make_mcat_repo(tmp_path, studies=("tcga_blca", "tcga_brca"))
    flat = root / "datasets_csv_sig"
    with pytest.raises(InputError, match=r"several tables could be the label CSV"):
        load_cohort(flat)
    (tmp_path / "f.toml").write_text(f'root = "{flat}"\nstudy = "tcga_blca"\n')
    assert len(load_cohort(tmp_path / "f.toml").patients) == 8


# ---- the one-cohort folder ------------------------------------------------------------------------
def test_one_cohort_folder_with_clinical_csv(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=4, with_pt=False)
    pd.DataFrame({"case_id": ["CASE-000", "CASE-002"], "stage": ["I", "III"]}).to_csv(root / "clinical.csv", index=False)
    cohort = load_cohort(root)
    assert cohort.config.layout == "folder" and cohort.config.labels.name == "labels.csv"
    assert cohort.patient("CASE-002").clinical["stage"] == "III" and "stage" not in cohort.patient("CASE-001").clinical
    assert any("2 patient(s) have no row in the clinical table" in i for i in cohort.issues)


def test_input_paths_list_everything_read(tmp_path):
    root = make_survpath_cohort(tmp_path)
    cfg = load_cohort(root).config
    paths = cfg.input_paths()
    assert paths[0] == root.resolve()
    for p in (cfg.labels, cfg.genomics, cfg.pathways, cfg.clinical, *cfg.splits):
        assert p in paths


def test_pointing_at_survpaths_datasets_csv_says_to_go_up(tmp_path):
    root = make_survpath_cohort(tmp_path)
    with pytest.raises(InputError, match=r"this is the datasets_csv/ folder of the SurvPath layout; give the folder above it"):
        load_cohort(root / "datasets_csv")
