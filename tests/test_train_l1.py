"""l1_genomic: the proximal L1 step on the genomic input weights (gene selection, as an elastic-net Cox)."""

import numpy as np
import pytest
import torch

from memamba_core.data import load_cohort
from memamba_core.errors import InputError
from memamba_core.models import ModelConfig, build_model, model_names, model_reads
from memamba_core.train import TrainConfig, train_cv
from memamba_core.train.loop import soft_threshold
from memamba_core.train.checkpoint import load_checkpoint
from tests._train_cohort import make_cohort, tiny_train, one_thread  # one_thread: autouse fixture


def test_soft_threshold_zeroes_small_weights_and_shrinks_the_rest():
    w = torch.tensor([[0.05, -0.05, 0.3], [-0.3, 0.0, 0.1]])
    soft_threshold([w], 0.1)
    torch.testing.assert_close(w, torch.tensor([[0.0, 0.0, 0.2], [-0.2, 0.0, 0.0]]))


def test_every_genomic_model_exposes_the_weights_that_read_gene_values():
    sizes = (5, 7, 3)
    for name in [n for n in model_names() if "genomics" in model_reads(n)]:
        model = build_model(ModelConfig(model=name, path_input_dim=8, omic_sizes=sizes, d_model=16))
        widths = sorted(w.shape[1] for w in model.genomic_input_weights())
        assert widths in (sorted(sizes), [sum(sizes)]), name
    assert build_model(ModelConfig(model="abmil", path_input_dim=8, d_model=16)).genomic_input_weights() == []


def test_negative_l1_is_refused():
    with pytest.raises(InputError, match="l1_genomic"):
        TrainConfig(l1_genomic=-1.0)


@pytest.mark.slow
def test_l1_training_makes_genomic_input_weights_sparse(tmp_path):
    cohort = load_cohort(make_cohort(tmp_path / "c", n=12))
    base = tiny_train(epochs=2)
    dense_run, sparse_run = tmp_path / "dense", tmp_path / "sparse"
    train_cv(cohort, base, dense_run)
    train_cv(cohort, TrainConfig.from_dict({**base.to_dict(), "l1_genomic": 500.0}), sparse_run)

    def zero_share(run):
        weights = load_checkpoint(run, fold=0).model.genomic_input_weights()
        return float(np.mean([float((w == 0).float().mean()) for w in weights]))

    assert zero_share(dense_run) == 0.0
    assert zero_share(sparse_run) > 0.9
