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


def test_pathway_genes_that_match_nothing_give_the_overlap(root):
    (root / "signatures.csv").unlink()
    pd.DataFrame({"P1": [1, 0], "P2": [1, 1]}, index=["TP53", "KRAS"]).to_csv(root / "pathways.csv")
    with pytest.raises(InputError, match=r"pathways\.csv: none of its 2 genes \(e\.g\. TP53, KRAS\) is in the genomic table "
                                         r"\(10 genes, e\.g\. GENE0, GENE1, GENE2\): 0 of 2 overlap"):
        load_cohort(root)


def test_genes_in_another_case_get_a_hint(root):
    (root / "signatures.csv").unlink()
    pd.DataFrame({"P1": [1, 1]}, index=["gene0", "gene1"]).to_csv(root / "pathways.csv")
    with pytest.raises(InputError, match=r"match only when upper/lower case is ignored"):
        load_cohort(root)


def test_signatures_that_match_nothing_are_an_error_too(root):
    pd.DataFrame({"F": ["NOPE1", "NOPE2"]}).to_csv(root / "signatures.csv", index=False)
    with pytest.raises(InputError, match=r"signatures\.csv: none of its 2 genes"):
        load_cohort(root)


def test_partial_overlap_reported_and_empty_groups_dropped_in_one_line(root):
    (root / "signatures.csv").unlink()
    genes = gene_names(10) + ["ABSENT1", "ABSENT2"]
    comp = pd.DataFrame({"P1": [1] * 10 + [1, 0], "E1": [0] * 10 + [1, 1], "E2": [0] * 10 + [0, 1]}, index=genes)
    comp.to_csv(root / "pathways.csv")
    cohort = load_cohort(root)
    assert cohort.groups.names == ("P1",)
    r = cohort.groups_report
    assert (r.kind, r.n_listed, r.n_kept, r.genes_listed, r.genes_matched, r.genes_in_data) == ("pathways", 3, 1, 12, 10, 10)
    assert "1 of 3 pathways kept; 10 of its 12 genes" in cohort.summary().gene_overlap
    assert any("10 of its 12 genes are in the genomic table; the other 2" in i for i in cohort.issues)
    dropped = [i for i in cohort.issues if "dropped" in i]
    assert len(dropped) == 1 and "2 group(s)" in dropped[0] and "'E1'" in dropped[0] and "'E2'" in dropped[0]


def test_hundreds_of_pathways(root):
    (root / "signatures.csv").unlink()
    genes = gene_names(10)
    comp = pd.DataFrame({f"P{k}": [int((j + k) % 3 == 0) for j in range(10)] for k in range(300)}, index=genes)
    comp.to_csv(root / "pathways.csv")
    cohort = load_cohort(root)
    assert len(cohort.groups.names) == 300 and cohort.summary().token_sizes[:3] == (6, 5, 4)
    assert "(300 groups, 4–6 each)" in cohort.summary().to_frame().set_index("item").loc["token sizes", "value"]
    tokens = cohort.genomic_tokens("CASE-001", cohort.fit_scaler(cohort.case_ids()))
    assert len(tokens) == 300 and [t.numel() for t in tokens[:3]] == [6, 5, 4]
