"""predict_patient / predict_cohort: outputs, and refusal of cohorts that cannot feed the checkpoint."""

import numpy as np
import pytest

from memamba_core.data import load_cohort
from memamba_core.errors import InputError
from memamba_core.train import load_checkpoint, predict_cohort, predict_patient
from tests._train_cohort import make_cohort, trained_run, one_thread  # one_thread: autouse fixture


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    cohort, run = trained_run(tmp_path_factory)
    return cohort, load_checkpoint(run), run


def test_predict_patient_gives_output_and_bag(loaded):
    cohort, lm, _ = loaded
    cid = cohort.case_ids()[0]
    out, bag = predict_patient(lm, cohort, cid)
    assert out.survival.shape == (4,) and float(out.risk) == pytest.approx(-float(out.survival.sum()), abs=1e-6)
    assert bag is not None and bag.features.shape[0] == cohort.load_bag(cid).features.shape[0]
    assert out.attention["pathology/pool"].shape == (bag.features.shape[0],)
    assert out.transport_plan is not None and out.transport_plan.shape == (bag.features.shape[0], 3)


def test_predict_cohort_table(loaded):
    cohort, lm, _ = loaded
    df = predict_cohort(lm, cohort)
    assert list(df.columns) == ["case_id", "risk", "S_1", "S_2", "S_3", "S_4", "survival_months", "censorship", "event",
                                "in_training"]
    assert list(df.case_id) == cohort.case_ids()
    assert df["in_training"].sum() == len(lm.train_case_ids)
    assert (np.diff(df[["S_1", "S_2", "S_3", "S_4"]].to_numpy(), axis=1) <= 1e-7).all()
    assert (df.event == 1 - df.censorship).all()
    again = predict_cohort(lm, cohort)
    np.testing.assert_array_equal(df.risk, again.risk)  # eval mode: deterministic


def test_incompatible_cohorts_are_refused_with_every_problem(loaded, tmp_path):
    _, lm, _ = loaded
    wide = load_cohort(make_cohort(tmp_path / "wide", n=6, d_in=12))
    with pytest.raises(InputError, match="trained on 8-dim patch features but cohort 'wide' has 12-dim"):
        predict_cohort(lm, wide)
    other_groups = load_cohort(make_cohort(tmp_path / "groups", n=6, n_genes=4))
    with pytest.raises(InputError, match="trained on gene groups \\(A, B, C\\) but cohort 'groups' has \\(A\\): the cohort lacks B, C"):
        predict_patient(lm, other_groups, "P000")
    no_path = load_cohort(make_cohort(tmp_path / "nopath", n=6, pathology=False))
    with pytest.raises(InputError, match="reads patch features \\(D_in = 8\\) but cohort 'nopath' .* has none"):
        predict_cohort(lm, no_path)
    both_wrong = load_cohort(make_cohort(tmp_path / "both", n=6, d_in=12, n_genes=4))
    with pytest.raises(InputError, match="does not fit cohort 'both' \\(2 problems\\)") as err:
        predict_cohort(lm, both_wrong)
    text = str(err.value)  # one error lists them all: the feature width and the gene groups
    assert "12-dim" in text and "the cohort lacks B, C" in text
