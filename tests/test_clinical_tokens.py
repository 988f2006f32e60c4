"""Clinical variables as tokens of the genomics path (memamba_core.data.clinical_tokens)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from memamba_core.data import load_cohort
from memamba_core.data.clinical_tokens import clinical_encoding, clinical_matrix, with_clinical_tokens
from memamba_core.errors import InputError
from memamba_core.models import ModelConfig, build_model
from tests._cohort_fixtures import make_clam_cohort, make_survpath_cohort


@pytest.fixture
def cohort(tmp_path):
    return load_cohort(make_survpath_cohort(tmp_path, n_patients=12, n_genes=12))


def test_default_variables_and_their_columns(cohort):
    enc = clinical_encoding(cohort)
    assert enc.variables == ("age", "is_female", "stage", "grade")  # the fixture has all four; subtype is not a default
    stage_levels = sorted({cohort.patient(c).clinical["stage"] for c in cohort.case_ids() if "stage" in cohort.patient(c).clinical})
    assert enc.levels[2] == tuple(stage_levels)
    assert enc.groups.columns[0] == ("clinical:age", "clinical:age:missing")
    assert enc.groups.columns[2] == tuple(f"clinical:stage={s}" for s in stage_levels) + ("clinical:stage:missing",)
    assert enc.levels[1] == ()  # is_female is numeric (0/1)


def test_missing_values_are_flagged_not_guessed(cohort):
    enc = clinical_encoding(cohort)
    X, cols = clinical_matrix(cohort, ["P-003", "P-004"], encoding=enc)  # the fixture's P-003 has no stage
    row = dict(zip(cols, X[0]))
    assert row["clinical:stage:missing"] == 1.0
    assert all(v == 0.0 for c, v in row.items() if c.startswith("clinical:stage="))
    other = dict(zip(cols, X[1]))
    assert other["clinical:stage:missing"] == 0.0 and sum(v for c, v in other.items() if c.startswith("clinical:stage=")) == 1.0
    assert row["clinical:age"] == cohort.patient("P-003").clinical["age"]


def test_tokens_mode_appends_one_group_per_variable(cohort):
    both = with_clinical_tokens(cohort)
    g = len(cohort.groups.names)
    assert both.groups.names[:g] == cohort.groups.names
    assert both.groups.names[g:] == ("clinical:age", "clinical:is_female", "clinical:stage", "clinical:grade")
    scaler = both.fit_scaler(both.case_ids()[:8])
    tokens = both.genomic_tokens("P-005", scaler)
    assert [t.numel() for t in tokens] == list(both.groups.sizes)
    genes_only = cohort.genomic_tokens("P-005", cohort.fit_scaler(cohort.case_ids()[:8]))
    for a, b in zip(tokens[:g], genes_only):
        assert torch.allclose(a, b)
    # the original cohort is not changed
    assert len(cohort.groups.names) == g and not any(c.startswith("clinical:") for c in cohort.genomic_columns)


def test_scaler_standardises_clinical_values_on_training_patients_only(cohort):
    both = with_clinical_tokens(cohort)
    train = both.case_ids()[:6]
    scaler = both.fit_scaler(train)
    j = scaler.columns.index("clinical:age")
    ages = [cohort.patient(c).clinical["age"] for c in train]
    assert scaler.mean_[j] == pytest.approx(np.mean(ages)) and scaler.std_[j] == pytest.approx(np.std(ages))


def test_only_mode_keeps_the_same_patients(tmp_path):
    cohort = load_cohort(make_clam_cohort(tmp_path, n_patients=6, with_pt=False))
    only = with_clinical_tokens(cohort, "only", ["age"])
    assert only.groups.names == ("clinical:age",) and only.groups.sizes == (2,)
    assert [only.has_genomics(c) for c in only.case_ids()] == [cohort.has_genomics(c) for c in cohort.case_ids()]


def test_a_model_reads_the_clinical_tokens(cohort):
    both = with_clinical_tokens(cohort)
    cfg = ModelConfig(model="memamba", modalities="genomics", omic_sizes=both.groups.sizes, d_model=16, n_layers=1)
    model = build_model(cfg).eval()
    scaler = both.fit_scaler(both.case_ids())
    a = model(None, both.genomic_tokens("P-004", scaler)).logits
    tokens = both.genomic_tokens("P-004", scaler)
    tokens[-4] = tokens[-4] + 3.0  # change only the age token
    assert not torch.allclose(a, model(None, tokens).logits)


@pytest.mark.parametrize("variables, message", [
    (["stage", "tumour_size"], r"no clinical variable 'tumour_size'.*its clinical columns are .*stage"),
    ([], r"no clinical variable \(none named\)"),
])
def test_variables_the_cohort_lacks_are_named(cohort, variables, message):
    with pytest.raises(InputError, match=message):
        with_clinical_tokens(cohort, "tokens", variables)


def test_a_cohort_without_clinical_variables_says_how_to_add_them(tmp_path):
    root = make_clam_cohort(tmp_path, n_patients=6, with_pt=False)
    cohort = load_cohort(root)
    lean = load_cohort(root)
    lean.clinical_columns = ()
    with pytest.raises(InputError, match=r"has none of the clinical variables age, is_female, stage, grade.*add a clinical table"):
        clinical_encoding(lean)
    with pytest.raises(InputError, match=r"mode='both' is not one of tokens, only"):
        with_clinical_tokens(cohort, "both")
