"""Genomics-only models train on a step's patients in one batched pass: the same update as one pass per patient."""


import numpy as np
import pytest
import torch

from memamba_core.data import load_cohort
from memamba_core.errors import InputError
from memamba_core.models import ModelConfig, build_model
from memamba_core.train import TrainConfig, train_cv
from memamba_core.train import loop
from memamba_core.train.cv import new_model, prepare_fold, resolve_folds, resolve_model_config
from memamba_core.train.distributed import Dist
from memamba_core.train.loop import fit_fold, predict_examples
from tests._train_cohort import assert_two_processes_match_one, make_cohort, tiny_train, one_thread  # one_thread: autouse fixture

SIZES = (5, 7, 3)
GENOMIC_MODELS = {
    "memamba, scans on": dict(model="memamba", modalities="genomics"),
    "memamba, scans off": dict(model="memamba", modalities="genomics", scan_forward=False, scan_reverse=False, scan_ranked=False),
    "snn": dict(model="snn"),
    "late_fusion, genomics": dict(model="late_fusion", modalities="genomics"),
}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return load_cohort(make_cohort(tmp_path_factory.mktemp("c") / "gen", n=22, pathology=False))


def _fold(cohort, cfg):
    mcfg = resolve_model_config(cohort, cfg)
    split = resolve_folds(cohort, cfg)[0][0]
    return mcfg, prepare_fold(cohort, cfg, mcfg, split.train, split.val)


@pytest.mark.parametrize("kind", list(GENOMIC_MODELS))
def test_genomics_logits_equal_the_single_patient_forward_values_and_gradients(kind):
    torch.manual_seed(0)
    model = build_model(ModelConfig(path_input_dim=4, omic_sizes=SIZES, d_model=16, d_state=4, n_layers=2, dropout=0.0,
                                    **GENOMIC_MODELS[kind])).double()
    g = torch.Generator().manual_seed(1)
    omics = [torch.randn(6, s, generator=g, dtype=torch.float64) for s in SIZES]  # B = 6
    assert model.batches_genomics
    batched = model.genomics_logits(omics)
    batched.square().sum().backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    single = torch.stack([model(None, [o[b] for o in omics]).logits for b in range(6)])
    single.square().sum().backward()
    torch.testing.assert_close(batched, single, rtol=1e-12, atol=1e-12)
    assert set(grads) == {k for k, p in model.named_parameters() if p.grad is not None}
    for k, p in model.named_parameters():
        if p.grad is not None:  # the selective scan runs its recurrence in float32
            torch.testing.assert_close(grads[k], p.grad, rtol=1e-6, atol=1e-8, msg=k)


def test_genomics_logits_refuse_pathology_models_and_misshaped_batches():
    both = build_model(ModelConfig(path_input_dim=4, omic_sizes=SIZES, d_model=8, d_state=4, n_layers=1))
    assert not both.batches_genomics
    with pytest.raises(InputError, match="reads pathology"):
        both.genomics_logits([torch.zeros(2, s) for s in SIZES])
    gen = build_model(ModelConfig(model="snn", omic_sizes=SIZES, d_model=8))
    with pytest.raises(InputError, match="stack the patients"):
        gen.genomics_logits([torch.zeros(s) for s in SIZES])  # one patient, no batch axis
    with pytest.raises(InputError, match="stack the patients"):
        gen.genomics_logits([torch.zeros(2, 5), torch.zeros(3, 7), torch.zeros(2, 3)])  # B differs


@pytest.mark.parametrize("kind", ["memamba, scans off", "memamba, scans on", "snn"])
def test_a_batched_fit_equals_the_accumulated_one_without_dropout(cohort, kind):
    """float64, dropout off: several epochs of steps with a ragged last step, weight decay and the L1 step."""
    cfg = tiny_train(model=dict(dropout=0.0, **GENOMIC_MODELS[kind]), epochs=3, grad_accum=5, l1_genomic=0.5, weight_decay=1e-2)
    mcfg, data = _fold(cohort, cfg)
    states, histories = [], []
    for batch in (True, False):
        model = new_model(mcfg, cfg, 0, Dist()).double()
        calls = []
        model.genomics_logits = lambda omics, f=model.genomics_logits: calls.append(1) or f(omics)
        fit = fit_fold(model, data.train, cfg.replace(batch_genomics=batch), 0, Dist())
        assert bool(calls) == batch  # the batched path ran only when asked for
        states.append(fit.state)
        histories.append(fit.history)
    assert len(data.train) % cfg.grad_accum != 0
    for k in states[0]:
        torch.testing.assert_close(states[0][k], states[1][k], rtol=1e-8, atol=1e-9, msg=k)  # measured ≤ 3e-10
    for a, b in zip(*histories):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-9)
        assert a["train_c_index"] == pytest.approx(b["train_c_index"], abs=1e-12)


def test_batched_training_is_deterministic_under_a_seed_with_dropout(cohort):
    cfg = tiny_train(model=dict(modalities="genomics", dropout=0.3), epochs=2, grad_accum=4)
    mcfg, data = _fold(cohort, cfg)
    fits = [fit_fold(new_model(mcfg, cfg, 0, Dist()), data.train, cfg, 0, Dist()) for _ in range(2)]
    for k in fits[0].state:
        assert torch.equal(fits[0].state[k], fits[1].state[k]), k
    other = fit_fold(new_model(mcfg, cfg, 0, Dist()), data.train, cfg.replace(seed=1), 0, Dist())
    assert any(not torch.equal(fits[0].state[k], other.state[k]) for k in other.state)


def test_batched_prediction_equals_the_per_patient_one(cohort, monkeypatch):
    cfg = tiny_train(model=dict(modalities="genomics"), epochs=1)
    mcfg, data = _fold(cohort, cfg)
    model = new_model(mcfg, cfg, 0, Dist())
    fit_fold(model, data.train, cfg, 0, Dist())
    monkeypatch.setattr(loop, "_PREDICT_CHUNK", 4)  # several chunks, a ragged last one
    risk, surv = predict_examples(model, data.val, Dist())
    with torch.no_grad():
        single = [model.eval()(None, e.omics) for e in data.val]
    np.testing.assert_allclose(risk, [float(o.risk) for o in single], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(surv, np.stack([o.survival.detach().numpy() for o in single]), rtol=1e-6, atol=1e-6)


def test_pathology_models_keep_one_pass_per_patient(tmp_path, monkeypatch):
    calls = []
    real = loop._batched_step
    monkeypatch.setattr(loop, "_batched_step", lambda *a, **k: calls.append(1) or real(*a, **k))
    cohort = load_cohort(make_cohort(tmp_path / "both", n=12))
    train_cv(cohort, tiny_train(epochs=1), tmp_path / "run", progress=False)
    assert not calls
    train_cv(cohort, tiny_train(epochs=1, model={"modalities": "genomics"}), tmp_path / "gen", progress=False)
    assert calls


def test_batch_genomics_must_be_a_bool():
    with pytest.raises(InputError, match="batch_genomics"):
        TrainConfig(batch_genomics="yes")


@pytest.mark.slow
def test_two_processes_match_one_on_batched_genomics_steps(tmp_path):
    """DDP: each rank's share in one batch, gradients averaged by hand; without dropout the same run as one process."""
    cohort = make_cohort(tmp_path / "gen", n=15, pathology=False)
    args = ["--modalities", "genomics", "--epochs", "2", "--d-model", "16", "--set", "d_state=4", "--set", "n_layers=1",
            "--set", "dropout=0", "--grad-accum", "5", "--l1-genomic", "0.5", "--folds", "generated", "--n-folds", "2",
            "--num-threads", "1", "--no-progress", "--eval-every", "1"]
    assert_two_processes_match_one(cohort, tmp_path, args)
