"""Training options for large bags: per-pass patch subsampling, activation checkpointing, autocast, prefetched bags."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from memamba_core.data import load_cohort
from memamba_core.errors import InputError
from memamba_core.models import ModelConfig, build_model
from memamba_core.models.experts import set_activation_checkpointing
from memamba_core.survival.discrete import nll_loss
from memamba_core.train import TrainConfig
from memamba_core.train.cv import new_model, prepare_fold, resolve_folds, resolve_model_config
from memamba_core.train.distributed import Dist
from memamba_core.train.loop import fit_fold, predict_examples
from memamba_core.train.precision import Precision
from memamba_core.train.prefetch import Prefetcher
from memamba_core.runs import RunPaths
from tests._train_cohort import make_cohort, tiny_train, one_thread  # one_thread: autouse fixture

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return load_cohort(make_cohort(tmp_path_factory.mktemp("c") / "bags", n=14))


def _fold(cohort, cfg):
    mcfg = resolve_model_config(cohort, cfg)
    split = resolve_folds(cohort, cfg)[0][0]
    return mcfg, prepare_fold(cohort, cfg, mcfg, split.train, split.val)


def _fit(cohort, cfg, **kw):
    mcfg, data = _fold(cohort, cfg)
    model = new_model(mcfg, cfg, 0, Dist())
    return model, data, fit_fold(model, data.train, cfg, 0, Dist(), **kw)


def _same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# --- patch subsampling -----------------------------------------------------------------------


def test_subsampling_draws_fresh_patches_each_pass_in_spatial_order_and_inference_sees_the_bag(cohort):
    cfg = tiny_train(max_train_patches=8, epochs=3, grad_accum=3)
    mcfg, data = _fold(cohort, cfg)
    model = new_model(mcfg, cfg, 0, Dist())
    seen: list[tuple[str, bool, torch.Tensor]] = []
    forward = model.forward

    def spy(path, omics):
        seen.append((spy.case, model.training, path))
        return forward(path, omics)

    model.forward = spy
    by_bag = {}
    for ex in data.train + data.val:  # the case a bag belongs to, found by its exact rows
        by_bag[ex.case_id] = ex.features()
    original_features = type(data.train[0]).features

    def tagged(self):
        spy.case = self.case_id
        return original_features(self)

    type(data.train[0]).features = tagged
    try:
        fit_fold(model, data.train, cfg, 0, Dist())
        risk, _ = predict_examples(model, data.val, Dist())
    finally:
        type(data.train[0]).features = original_features
    train_passes = [(c, p) for c, t, p in seen if t]
    assert len(train_passes) == cfg.epochs * len(data.train)
    subsets: dict[str, list[tuple[int, ...]]] = {}
    for case, path in train_passes:
        bag = by_bag[case]
        assert path.shape == (min(8, len(bag)), bag.shape[1])
        rows = [int(torch.nonzero((bag == r).all(1))[0]) for r in path]
        assert rows == sorted(rows) and len(set(rows)) == len(rows)  # a subset, in the bag's (spatial) order
        subsets.setdefault(case, []).append(tuple(rows))
    assert all(len(set(s)) == cfg.epochs for s in subsets.values())  # a fresh draw every pass
    # inference: the whole bag, not a subsample — the same risks as a plain eval forward of the full bag
    model.forward = forward
    model.eval()
    with torch.no_grad():
        full = [float(model(by_bag[e.case_id], e.omics).risk) for e in data.val]
    np.testing.assert_allclose(risk, full, rtol=1e-6)
    eval_passes = [p for c, t, p in seen if not t]
    assert [len(p) for p in eval_passes] == [len(by_bag[e.case_id]) for e in data.val]


def test_subsampling_is_off_at_zero_and_when_the_bag_is_short(cohort):
    cfg = tiny_train(max_train_patches=0, epochs=1)
    _, data = _fold(cohort, cfg)
    lengths = {len(e.features()) for e in data.train}
    assert max(lengths) > 8  # the fixture has bags longer than the cap used above
    a = _fit(cohort, cfg)[2]
    b = _fit(cohort, cfg.replace(max_train_patches=1000))[2]  # a cap above every bag changes nothing
    _same_state(a.state, b.state)


# --- activation checkpointing ----------------------------------------------------------------


def _saved_bytes(fn) -> int:
    """Bytes of the distinct tensor storages autograd saves for backward while ``fn`` runs (outside checkpointed regions)."""
    storages: dict[int, int] = {}

    def pack(t):
        s = t.untyped_storage()
        storages[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return sum(storages.values()), out


def test_checkpointing_stores_far_less_for_backward_and_gives_the_same_gradients():
    torch.manual_seed(0)
    cfg = ModelConfig(path_input_dim=64, omic_sizes=(5, 7, 3), d_model=32, d_state=8, n_layers=2, dropout=0.0)
    model = build_model(cfg).train()
    g = torch.Generator().manual_seed(1)
    path = torch.randn(4000, 64, generator=g)  # a large bag: the experts' activations dominate
    omics = [torch.randn(s, generator=g) for s in (5, 7, 3)]
    y, c = torch.tensor([1]), torch.tensor([0])

    def step():
        model.zero_grad(set_to_none=True)
        out = model(path, omics)
        loss = nll_loss(out.logits.reshape(1, -1), y, c) + out.mmd
        return loss

    plain_bytes, loss = _saved_bytes(step)
    loss.backward()
    plain = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    assert set_activation_checkpointing(model, True) == 2  # the pathology and genomics experts
    ckpt_bytes, loss = _saved_bytes(step)
    loss.backward()
    ckpt = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    assert ckpt_bytes < 0.3 * plain_bytes, (ckpt_bytes, plain_bytes)
    assert plain.keys() == ckpt.keys()
    for k in plain:
        torch.testing.assert_close(ckpt[k], plain[k], rtol=0, atol=0, msg=k)  # recomputed exactly
    with torch.no_grad():  # no autograd: nothing to checkpoint, the streamed inference path as before
        set_activation_checkpointing(model, False)
        model.eval()
        before = model(path, omics).risk
        set_activation_checkpointing(model, True)
        assert torch.equal(model(path, omics).risk, before)


def test_checkpointed_fit_equals_the_plain_one_and_says_so(cohort):
    cfg = tiny_train(model=dict(dropout=0.0), epochs=2)
    _, _, plain = _fit(cohort, cfg)
    model, _, ckpt = _fit(cohort, cfg.replace(activation_checkpointing=True))
    _same_state(plain.state, ckpt.state)
    assert [r["loss"] for r in plain.history] == [r["loss"] for r in ckpt.history]
    assert "activation_checkpointing" not in plain.history[0]
    assert ckpt.history[0]["activation_checkpointing"] == "the layers of 2 expert(s) recomputed in backward"
    assert not any(getattr(m, "checkpoint_layers", False) for m in model.modules())  # switched off after training
    _, _, snn = _fit(cohort, cfg.replace(model=cfg.model.__class__(**{**cfg.model.to_dict(), "model": "abmil"}),
                                         activation_checkpointing=True))
    assert snn.history[0]["activation_checkpointing"].startswith("not applied")


# --- autocast --------------------------------------------------------------------------------


def test_autocast_is_not_applied_on_cpu_and_trains_exactly_as_off(cohort):
    cfg = tiny_train(epochs=2)
    _, _, off = _fit(cohort, cfg)
    for mode in ("bf16", "fp16"):
        _, _, asked = _fit(cohort, cfg.replace(autocast=mode))
        _same_state(off.state, asked.state)
        assert [r["loss"] for r in off.history] == [r["loss"] for r in asked.history]
        note = asked.history[0]["autocast"]
        assert note.startswith(f"{mode} autocast not applied") and "CUDA only" in note and "cpu" in note
    assert "autocast" not in off.history[0]


def test_precision_on_cpu_and_bad_values():
    p = Precision.for_device("fp16", torch.device("cpu"))
    assert not p.applied and p.scaler is None
    with p.autocast():
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.float32
    assert Precision.for_device("off", "cpu").note == "float32"
    with pytest.raises(InputError, match="autocast must be one of off, bf16, fp16"):
        TrainConfig(autocast="fp8")


@needs_cuda
@pytest.mark.parametrize("mode", ["bf16", "fp16"])
def test_autocast_on_cuda_trains_close_to_float32(mode):
    torch.manual_seed(0)
    cfg = ModelConfig(path_input_dim=64, omic_sizes=(5, 7, 3), d_model=32, d_state=8, n_layers=1, dropout=0.0)
    base = build_model(cfg).cuda().train()
    g = torch.Generator().manual_seed(1)
    path = torch.randn(3000, 64, generator=g).cuda()
    omics = [torch.randn(s, generator=g).cuda() for s in (5, 7, 3)]
    y, c = torch.tensor([1]).cuda(), torch.tensor([0]).cuda()
    grads = {}
    for name in ("off", mode):
        model = build_model(cfg).cuda().train()
        model.load_state_dict(base.state_dict())
        prec = Precision.for_device(name, torch.device("cuda"))
        assert prec.applied == (name != "off") and (prec.scaler is not None) == (name == "fp16")
        with prec.autocast():
            out = model(path, omics)
            loss = nll_loss(out.logits.reshape(1, -1).float(), y, c)
        prec.backward(loss)
        if prec.scaler is not None:
            prec.scaler.unscale_(torch.optim.SGD(model.parameters(), lr=0.0))
        grads[name] = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
        assert torch.isfinite(grads[name]).all()
    cos = torch.nn.functional.cosine_similarity(grads["off"], grads[mode], dim=0)
    assert cos > 0.98, float(cos)


# --- prefetched bags -------------------------------------------------------------------------


def test_prefetched_fit_equals_the_synchronous_one_bit_for_bit(cohort):
    cfg = tiny_train(epochs=2, grad_accum=3, max_train_patches=10, model=dict(dropout=0.2))
    _, _, sync = _fit(cohort, cfg)
    for depth in (1, 3):
        _, _, pre = _fit(cohort, cfg.replace(prefetch_bags=depth))
        _same_state(sync.state, pre.state)
        assert [r["loss"] for r in sync.history] == [r["loss"] for r in pre.history]


def test_the_worker_reads_ahead_while_the_model_computes(cohort, monkeypatch):
    """An instrumented slow disk (0.1 s per bag) and slow model (0.1 s per pass): the reads run in another thread,
    overlapping the passes, and never more than ``depth`` bags ahead."""
    cfg = tiny_train(epochs=1, grad_accum=4, prefetch_bags=2)
    mcfg, data = _fold(cohort, cfg)
    model = new_model(mcfg, cfg, 0, Dist())
    events = []  # (kind, start, end, thread)
    load_bag = cohort.load_bag

    def slow_load(case_id):
        t0 = time.perf_counter()
        time.sleep(0.1)
        bag = load_bag(case_id)
        events.append(("load", t0, time.perf_counter(), threading.get_ident()))
        return bag

    forward = model.forward

    def slow_forward(path, omics):
        t0 = time.perf_counter()
        time.sleep(0.1)
        out = forward(path, omics)
        events.append(("pass", t0, time.perf_counter(), threading.get_ident()))
        return out

    monkeypatch.setattr(cohort, "load_bag", slow_load)
    model.forward = slow_forward
    fit_fold(model, data.train, cfg, 0, Dist())
    loads = [e for e in events if e[0] == "load"]
    passes = [e for e in events if e[0] == "pass" and e[3] == threading.get_ident()]
    assert len(loads) == len(data.train) and len(passes) >= len(data.train)
    assert all(e[3] != threading.get_ident() for e in loads)  # read in the background thread
    overlapping = sum(any(l[1] < p[2] and p[1] < l[2] for p in passes) for l in loads)
    assert overlapping >= len(loads) - 2, (overlapping, len(loads))  # all but the first reads hide behind a pass
    for p_start in (p[1] for p in passes):  # read-ahead is bounded: at most depth + 1 (one being read) ahead
        done_before = sum(l[2] <= p_start for l in loads)
        started = sum(p[1] <= p_start for p in passes)
        assert done_before - started <= cfg.prefetch_bags + 1


def test_prefetcher_order_and_errors():
    with Prefetcher(lambda i: i * i, [3, 1, 2], depth=1) as p:
        assert [p.get(3), p.get(1)] == [9, 1]
        with pytest.raises(RuntimeError, match="asked for 1, next planned is 2"):
            p.get(1)

    def bad(i):
        if i == 2:
            raise InputError("bag 2 is unreadable")
        return i

    with Prefetcher(bad, [1, 2, 3], depth=2) as p:
        assert p.get(1) == 1
        with pytest.raises(InputError, match="bag 2"):
            p.get(2)
    with pytest.raises(ValueError, match="depth"):
        Prefetcher(bad, [1], depth=0)


@pytest.mark.slow
def test_two_ranks_with_checkpointing_and_prefetch_match_one_plain_process(tmp_path):
    """Under torchrun (DDP) both options run, and neither changes the result: one plain process gives the same run."""
    import json

    import pandas as pd

    from memamba_core.cli import main
    from tests._train_cohort import assert_two_processes_match_one
    from tests.test_distributed import ARGS

    root = make_cohort(tmp_path / "tiny", n=14)
    (tmp_path / "opts.json").write_text(json.dumps({"activation_checkpointing": True, "prefetch_bags": 2}))
    one, two = assert_two_processes_match_one(root, tmp_path, [*ARGS, "--config", str(tmp_path / "opts.json")])
    assert main(["train", str(root), "--out", str(tmp_path / "plain"), *ARGS]) == 0
    plain = pd.read_csv(RunPaths(tmp_path / "plain").oof)
    np.testing.assert_allclose(two.risk, plain.risk, atol=1e-4)
    np.testing.assert_array_equal(one.risk, plain.risk)  # one process: bit for bit
