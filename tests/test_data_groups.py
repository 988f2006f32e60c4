"""Gene groups: signatures.csv families, gene x pathway matrices, the by-type fallback."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from memamba_core.data import GeneGroups, load_cohort
from memamba_core.data.groups import genomic_columns
from memamba_core.errors import InputError
from tests._cohort_fixtures import gene_names, make_clam_cohort


@pytest.fixture
def root(tmp_path):
    return make_clam_cohort(tmp_path, n_patients=6, with_pt=False, with_h5=False)


def test_genomic_columns_by_suffix():
    assert genomic_columns(["age", "TP53_rnaseq", "TP53_cnv", "KRAS_mut", "x_rna", 3]) == ["TP53_rnaseq", "TP53_cnv", "KRAS_mut"]


def test_sizes_and_all_columns():
    g = GeneGroups(("a", "b"), (("X_cnv", "X_rnaseq"), ("X_rnaseq", "Y_mut", "Z_cnv")))
    assert g.sizes == (2, 3) and g.all_columns == ("X_cnv", "X_rnaseq", "Y_mut", "Z_cnv")


def test_signature_tokens_sorted_and_in_family_order(root):
    g = load_cohort(root).groups
    assert g.names == ("Family A", "Family B")
    assert g.columns[0][:3] == ("GENE0_cnv", "GENE0_rnaseq", "GENE2_cnv")
    assert g.sizes == (10, 5)
    assert GeneGroups.from_dict(json.loads(json.dumps(g.to_dict()))) == g


def test_signature_family_without_columns_dropped(root):
    sig = pd.read_csv(root / "signatures.csv")
    sig["Empty"] = pd.Series(["NOTAGENE", "ALSO_NOT"])
    sig.to_csv(root / "signatures.csv", index=False)
    cohort = load_cohort(root)
    assert cohort.groups.names == ("Family A", "Family B")
    assert any("'Empty'" in i and "dropped" in i for i in cohort.issues)


def test_pathways_matrix(root):
    (root / "signatures.csv").unlink()
    genes = gene_names(10)
    comp = pd.DataFrame({"P1": [1 if j < 3 else 0 for j in range(10)], "P2": [j % 2 for j in range(10)]}, index=genes)
    comp.to_csv(root / "pathways.csv")  # genes as an unnamed index column
    g = load_cohort(root).groups
    assert g.names == ("P1", "P2")
    assert g.columns[0] == ("GENE0_cnv", "GENE0_rnaseq", "GENE1_rnaseq", "GENE2_cnv", "GENE2_rnaseq")
    assert g.sizes == (5, 5)


def test_pathways_not_binary(root):
    (root / "signatures.csv").unlink()
    pd.DataFrame({"gene": ["GENE0", "GENE1"], "P1": [1, 0.5]}).to_csv(root / "pathways.csv", index=False)
    with pytest.raises(InputError, match=r"pathways\.csv: column 'P1' must hold 0/1.*data row 2 \(gene GENE1\)"):
        load_cohort(root)


def test_no_groups_file_groups_by_type(root):
    (root / "signatures.csv").unlink()
    cohort = load_cohort(root)
    assert cohort.groups.names == ("rnaseq", "cnv") and cohort.groups.sizes == (10, 5)
    assert any("grouped by type" in i for i in cohort.issues)
