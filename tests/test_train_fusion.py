"""Training a bimodal model to use both modalities: modality dropout (some passes see one modality) and the
per-expert auxiliary loss (each expert's own prediction is scored too)."""

from collections import Counter

import numpy as np
import pytest
import torch

from memamba_core.data import load_cohort
from memamba_core.errors import InputError
from memamba_core.models import ModelConfig, build_model
from memamba_core.runs import read_oof, read_run_record
from memamba_core.train import TrainConfig, train_cv
from memamba_core.train.loop import _forward
from tests._train_cohort import make_cohort, tiny_train, one_thread  # one_thread: autouse fixture


class _Recorder(torch.nn.Module):
    """Stands in for a model: records which modalities each pass received."""

    def __init__(self, modalities: str = "both"):
        super().__init__()
        self.cfg = ModelConfig(path_input_dim=4, omic_sizes=(2,), modalities=modalities)
        self.seen: list[tuple[bool, bool]] = []

    def forward(self, path, omics):
        self.seen.append((path is not None, omics is not None))
        return None


class _Example:
    omics = [torch.zeros(2)]

    def features(self):
        return torch.zeros(40, 4)


def _passes(model, p: float, n: int = 400, seed: int = 0) -> Counter:
    rng = np.random.default_rng(seed)
    for _ in range(n):
        _forward(model, _Example(), _Example().features(), torch.device("cpu"), 8, rng, p)
    return Counter(model.seen)


@pytest.mark.parametrize("bad", [-0.1, 0.51, 1.0])
def test_modality_dropout_outside_zero_to_half_is_refused(bad):
    with pytest.raises(InputError, match="modality_dropout"):
        TrainConfig(modality_dropout=bad)


def test_each_modality_is_dropped_at_the_given_rate_and_never_both():
    seen = _passes(_Recorder(), 0.25, n=2000)
    assert (False, False) not in seen
    assert abs(seen[(False, True)] / 2000 - 0.25) < 0.04  # slide dropped
    assert abs(seen[(True, False)] / 2000 - 0.25) < 0.04  # genomics dropped
    assert abs(seen[(True, True)] / 2000 - 0.5) < 0.04


def test_off_or_unimodal_models_always_see_what_they_use():
    assert _passes(_Recorder(), 0.0) == Counter({(True, True): 400})
    assert _passes(_Recorder("pathology"), 0.5) == Counter({(True, True): 400})  # nothing to drop to


def test_off_leaves_the_random_draws_of_earlier_versions_unchanged():
    """p = 0 must not consume random numbers: old runs (and the shipped demo checkpoint) stay reproducible."""
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    _forward(_Recorder(), _Example(), _Example().features(), torch.device("cpu"), 8, a, 0.0)
    _forward(_Recorder(), _Example(), _Example().features(), torch.device("cpu"), 8, b, 0.0)
    assert a.random() == b.random()
    c = np.random.default_rng(3)
    _forward(_Recorder(), _Example(), _Example().features(), torch.device("cpu"), 8, c, 0.3)
    assert c.random() != np.random.default_rng(3).random()


@pytest.mark.slow
def test_training_with_modality_dropout_and_aux_loss_is_deterministic_and_changes_the_model(tmp_path):
    cohort = load_cohort(make_cohort(tmp_path / "c", n=12))
    base = tiny_train(epochs=2)
    dropped = TrainConfig.from_dict({**base.to_dict(), "modality_dropout": 0.5, "expert_aux_weight": 1.0, "expert_warmup_epochs": 1})
    runs = {}
    for name, cfg in (("off", base), ("on", dropped), ("on_again", dropped)):
        train_cv(cohort, cfg, tmp_path / name, progress=False)
        runs[name] = read_oof(tmp_path / name).frame.sort_values("case_id")["risk"].to_numpy()
    np.testing.assert_allclose(runs["on"], runs["on_again"], rtol=0, atol=1e-6)
    assert not np.allclose(runs["on"], runs["off"], atol=1e-4)
    saved = TrainConfig.from_dict(read_run_record(tmp_path / "on").train)
    assert saved.modality_dropout == 0.5 and saved.expert_aux_weight == 1.0 and saved.expert_warmup_epochs == 1


def _experts_own_nll(out, y, c):
    """The expected expert term: mean NLL of each expert's own prediction."""
    from memamba_core.survival.discrete import nll_loss

    return torch.stack([nll_loss(v.reshape(1, -1), y, c) for v in out.expert_logits.values()]).mean()


def _small_memamba():
    torch.manual_seed(0)
    return build_model(ModelConfig(path_input_dim=4, omic_sizes=(2, 3), d_model=16, d_state=4, n_layers=1)).eval()


def test_memamba_reports_what_each_expert_predicts_alone():
    model = _small_memamba()
    path, omics = torch.randn(10, 4), [torch.randn(2), torch.randn(3)]
    with torch.no_grad():
        both = model(path, omics)
        only_path = model(path, None)
        only_omics = model(None, omics)
    assert set(both.expert_logits) == {"pathology", "genomics", "synergy"}
    assert all(v.shape == (model.cfg.n_bins,) for v in both.expert_logits.values())
    # one expert alone: the fused vector is that expert's (weight 1), so its own prediction is the output
    torch.testing.assert_close(both.expert_logits["pathology"], only_path.logits)
    torch.testing.assert_close(both.expert_logits["genomics"], only_omics.logits)
    assert only_path.expert_logits == {} and only_omics.expert_logits == {}


def test_negative_expert_aux_weight_is_refused():
    with pytest.raises(InputError, match="expert_aux_weight"):
        TrainConfig(expert_aux_weight=-0.5)


def test_the_aux_loss_adds_each_experts_own_nll():
    from memamba_core.train.loop import _loss

    model = _small_memamba()
    out = model(torch.randn(10, 4), [torch.randn(2), torch.randn(3)])
    ex = type("Ex", (), {"bin": 2, "censorship": 0})()
    y, c = torch.tensor([2]), torch.tensor([0])
    plain = _loss(out, ex, TrainConfig(), torch.device("cpu"), epoch=1)
    with_aux = _loss(out, ex, TrainConfig(expert_aux_weight=0.5), torch.device("cpu"), epoch=1)
    own = _experts_own_nll(out, y, c)
    torch.testing.assert_close(with_aux, plain + 0.5 * own)


@pytest.mark.parametrize("bad", [-1, 31])
def test_expert_warmup_outside_zero_to_epochs_is_refused(bad):
    with pytest.raises(InputError, match="expert_warmup_epochs"):
        TrainConfig(epochs=30, expert_warmup_epochs=bad)


def test_warmup_epochs_train_each_expert_on_its_own_prediction_only():
    from memamba_core.survival.discrete import nll_loss
    from memamba_core.train.loop import _loss

    model = _small_memamba()
    out = model(torch.randn(10, 4), [torch.randn(2), torch.randn(3)])
    ex = type("Ex", (), {"bin": 1, "censorship": 1})()
    y, c = torch.tensor([1]), torch.tensor([1])
    cfg = TrainConfig(epochs=4, expert_warmup_epochs=2, expert_aux_weight=0.5)
    own = _experts_own_nll(out, y, c)
    for epoch in (1, 2):  # warm-up: the fused prediction is not scored, so it sends no gradient
        torch.testing.assert_close(_loss(out, ex, cfg, torch.device("cpu"), epoch), own)
    fused = nll_loss(out.logits.reshape(1, -1), y, c) + (out.mmd if out.mmd is not None else 0)
    torch.testing.assert_close(_loss(out, ex, cfg, torch.device("cpu"), 3), fused + 0.5 * own)
    model.zero_grad()
    _loss(out, ex, cfg, torch.device("cpu"), 1).backward()
    assert all(p.grad is None or not p.grad.any() for p in model.aggregate.parameters())
    assert next(model.path_expert.parameters()).grad is not None


def test_warmup_leaves_a_model_without_experts_on_its_own_loss():
    from memamba_core.survival.discrete import nll_loss
    from memamba_core.train.loop import _loss

    model = _small_memamba()
    out = model(torch.randn(10, 4), None)  # one expert: nothing to warm up separately
    ex = type("Ex", (), {"bin": 0, "censorship": 0})()
    loss = _loss(out, ex, TrainConfig(epochs=4, expert_warmup_epochs=4), torch.device("cpu"), 1)
    torch.testing.assert_close(loss, nll_loss(out.logits.reshape(1, -1), torch.tensor([0]), torch.tensor([0])))
