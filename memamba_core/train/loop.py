"""Fitting one fold: epochs of optimiser steps over ``grad_accum`` patients each, and evaluation.

Two ways to run a step, the same update:

* accumulated (any model): one forward/backward pass per patient, each loss
  scaled by 1/(patients in the step), gradients accumulated;
* batched (genomics-only models, ``TrainConfig.batch_genomics``, the default):
  the step's patients stacked into one ``model.genomics_logits`` pass, mean
  loss — the same gradient up to float rounding, and the same patient order.
  On the BLCA recipe an epoch runs ~20× faster (docs/training.md).

Determinism: every random choice is keyed by (seed, fold, epoch, patient) —
the patient order of an epoch, the patch subsample and the dropout masks of a
patient's pass (the torch RNG is re-seeded before each pass). So the result
does not depend on how patients are dealt to ranks: one process and several
give the same updates up to float summation order. A batched step draws the
dropout masks of its patients together, keyed by (seed, fold, epoch, step,
rank): as deterministic, with the same per-patient distribution, but not the
accumulated path's masks (without dropout the two paths agree to rounding).

Modality dropout (``TrainConfig.modality_dropout`` = p, bimodal models only): in
training, a patient with both modalities is shown without its slide with
probability p and without its genomics with probability p (never both), keyed
like the rest. The model then drops that expert and the Synergistic Expert from
its aggregation, so the shared head also learns to read each expert alone. The
per-expert auxiliary loss (``expert_aux_weight`` = w, ME-Mamba) adds w × the mean
NLL of each expert's own prediction (``SurvivalOutput.expert_logits``). Expert
warm-up (``expert_warmup_epochs`` = E, ME-Mamba): the first E epochs score only the
experts' own predictions (their mean NLL), so each expert learns from its modality
alone before the fused prediction is trained; the aggregation gets no gradient then.
All three counter a jointly trained model that lets one modality carry the loss
(docs/training.md, "Demo acceptance", has what each did on the demo).

Large bags (docs/scale.md): ``max_train_patches`` = M — each training pass of a
patient with more than M patches sees a fresh random subset of M (keyed like the
rest, kept in spatial order); evaluation always sees the whole bag.
``activation_checkpointing`` — the experts' scan layers are recomputed in backward
(:func:`~memamba_core.models.experts.set_activation_checkpointing`): same gradients,
less memory. ``autocast`` — bf16 / fp16 on CUDA, fp16 with loss scaling
(:mod:`.precision`); not applied elsewhere, which the epoch records say.
``prefetch_bags`` — the epoch's bags are read by a background thread in this rank's
pass order (:mod:`.prefetch`): the same tensors in the same order, so the same run.

Selection (``TrainConfig.selection``):
* ``last`` — the model after the last epoch. The reported validation fold is
  never looked at to choose anything.
* ``inner_val`` — an inner split carved out of the training fold (stratified
  by event, ``inner_val_fraction``) is held out from training; the epoch with
  the best inner C-index is kept. The outer validation fold stays unseen.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..models.experts import set_activation_checkpointing
from ..survival.discrete import hazards_from_logits, nll_loss, risk_from_survival, survival_from_hazards
from ..survival.metrics import concordance
from .config import TrainConfig
from .distributed import Dist, no_sync
from .examples import Example, subsample_patches
from .precision import Precision
from .prefetch import Prefetcher

__all__ = ["FitResult", "fit_fold", "predict_examples", "split_inner", "patient_key", "soft_threshold"]


def patient_key(*parts: int) -> np.random.SeedSequence:
    """A seed sequence for one (seed, fold, epoch, patient, …) key."""
    return np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts])


def _seed_torch(key: np.random.SeedSequence) -> None:
    torch.manual_seed(int(key.generate_state(1, dtype=np.uint64)[0] & 0x7FFFFFFFFFFFFFFF))


def _forward(model: nn.Module, ex: Example, feats: torch.Tensor | None, device: torch.device, max_patches: int,
             rng: np.random.Generator | None, modality_dropout: float = 0.0):
    """One pass of ``ex`` with its bag ``feats`` (N, D_in) (or None); training passes (``rng``) subsample and drop."""
    if feats is not None:
        if rng is not None:
            feats = subsample_patches(feats, max_patches, rng)
        feats = feats.to(device, non_blocking=True)
    omics = None if ex.omics is None else [t.to(device) for t in ex.omics]
    if rng is not None and modality_dropout > 0 and feats is not None and omics is not None and _bimodal(model):
        u = rng.random()  # drawn after the patch subsample, so modality_dropout = 0 leaves the old draws as they were
        if u < modality_dropout:
            feats = None
        elif u < 2 * modality_dropout:
            omics = None
    return model(feats, omics)


def _bimodal(model: nn.Module) -> bool:
    cfg = getattr(getattr(model, "module", model), "cfg", None)
    return cfg is not None and cfg.uses_pathology and cfg.uses_genomics


def _loss(out, ex: Example, cfg: TrainConfig, device: torch.device, epoch: int) -> torch.Tensor:
    y = torch.tensor([ex.bin], device=device)
    c = torch.tensor([ex.censorship], device=device)

    def nll(logits: torch.Tensor) -> torch.Tensor:
        return nll_loss(logits.reshape(1, -1), y, c, alpha=cfg.alpha_surv)

    def experts_nll() -> torch.Tensor:
        return torch.stack([nll(v) for v in out.expert_logits.values()]).mean()

    if epoch <= cfg.expert_warmup_epochs and out.expert_logits:
        return experts_nll()
    loss = nll(out.logits)
    if out.mmd is not None:
        loss = loss + out.mmd  # already weighted by the model (mmd_weight; 0 when off)
    if cfg.expert_aux_weight > 0 and out.expert_logits:
        loss = loss + cfg.expert_aux_weight * experts_nll()
    return loss


def _c_index(times, cens, risk) -> float | None:
    try:
        return concordance(np.asarray(times), 1 - np.asarray(cens), np.asarray(risk))
    except InputError:
        return None


_PREDICT_CHUNK = 512  # patients per batched evaluation pass


def _stack_omics(examples: list[Example], device: torch.device) -> list[torch.Tensor]:
    """The patients' genomic groups stacked: G tensors (B, size_g)."""
    return [torch.stack(parts).to(device) for parts in zip(*(e.omics for e in examples))]


def _batchable(module: nn.Module, examples: list[Example]) -> bool:
    """Whether ``module`` takes these patients in one genomics-only batch (fixed-shape inputs)."""
    return bool(getattr(module, "batches_genomics", False)) and all(e.omics is not None for e in examples)


@torch.no_grad()
def predict_examples(model: nn.Module, examples: list[Example], d: Dist) -> tuple[np.ndarray, np.ndarray]:
    """Risk (P,) and survival (P, K) of ``examples`` in eval mode, full bags; sharded over ranks and gathered.

    A genomics-only model predicts its shard in batches (same values up to float rounding).
    """
    module = getattr(model, "module", model)
    was_training = module.training
    module.eval()
    mine = list(range(d.rank, len(examples), d.world))
    local = {}
    if _batchable(module, examples):
        for s in range(0, len(mine), _PREDICT_CHUNK):
            idx = mine[s : s + _PREDICT_CHUNK]
            surv = survival_from_hazards(hazards_from_logits(module.genomics_logits(_stack_omics([examples[i] for i in idx], d.device))))
            risk = risk_from_survival(surv)
            for j, i in enumerate(idx):
                local[i] = (float(risk[j]), surv[j].float().cpu().numpy())
    else:
        for i in mine:
            out = _forward(module, examples[i], examples[i].features(), d.device, 0, None)
            local[i] = (float(out.risk), out.survival.detach().float().cpu().numpy())
    merged = {}
    for part in d.gather(local):
        merged.update(part)
    module.train(was_training)
    if not examples:
        return np.zeros(0), np.zeros((0, 0))
    risk = np.array([merged[i][0] for i in range(len(examples))])
    surv = np.stack([merged[i][1] for i in range(len(examples))])
    return risk, surv


def split_inner(examples: list[Example], fraction: float, seed: int, fold: int) -> tuple[list[Example], list[Example]]:
    """(train, inner) split of a training fold, stratified by event, deterministic."""
    rng = np.random.default_rng(patient_key(seed, fold, 7919))
    inner = []
    for flag in (0, 1):
        idx = [i for i, e in enumerate(examples) if e.censorship == flag]
        rng.shuffle(idx)
        inner += idx[: max(1, round(fraction * len(idx)))] if idx else []
    inner_set = set(inner)
    tr = [e for i, e in enumerate(examples) if i not in inner_set]
    held = [e for i, e in enumerate(examples) if i in inner_set]
    if not any(e.censorship == 0 for e in tr):
        raise InputError(f"fold {fold}: after carving the inner split no training event remains; use selection='last'.")
    return tr, held


@dataclass
class FitResult:
    """The selected model state and the per-epoch history of one fold."""

    state: dict[str, torch.Tensor]
    selected_epoch: int
    history: list[dict] = field(default_factory=list)


def _make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


@torch.no_grad()
def soft_threshold(weights: list[torch.Tensor], tau: float) -> None:
    """Proximal step of ``tau·‖w‖₁`` in place: w ← sign(w)·max(|w| − tau, 0).

    Applied to the genomic input weights after each optimiser step when
    ``TrainConfig.l1_genomic`` > 0 (tau = lr·λ): weights of genes the data do
    not keep pushing become exact zeros (gene selection, as an elastic-net Cox).
    Every rank applies it to identical weights, so DDP stays in sync.
    """
    for w in weights:
        w.copy_(torch.sign(w) * torch.clamp(w.abs() - tau, min=0.0))


_STEP_TAG = 15485863  # keeps a batched step's RNG key apart from the per-patient keys


def _rank_passes(step, d: Dist) -> list[tuple[int, bool]]:
    """This rank's passes of one step: (patient index, real?) — its share of ``step``, dealt round-robin,
    padded with zero-weighted passes of ``step[0]`` so every rank runs ⌈|step| / world⌉ passes."""
    local = [int(i) for i in step[d.rank :: d.world]]
    m = math.ceil(len(step) / d.world)
    return [(local[j], True) if j < len(local) else (int(step[0]), False) for j in range(m)]


def _accumulated_step(model, examples, step, cfg: TrainConfig, fold: int, epoch: int, d: Dist, prec: Precision,
                      bags: Prefetcher | None) -> tuple[float, dict[int, float]]:
    """One pass per patient of ``step`` (this rank's share), losses scaled by world/|step| and accumulated.

    ``bags``: the epoch's prefetched bags (None: each read when its pass starts).
    Returns (sum of this rank's patient losses, {patient index: train-mode risk}).
    """
    scale = d.world / len(step)
    passes = _rank_passes(step, d)
    loss_sum, risks = 0.0, {}
    for j, (i, real) in enumerate(passes):
        key = patient_key(cfg.seed, fold, epoch, i)
        _seed_torch(key)
        rng = np.random.default_rng(key)
        feats = examples[i].features() if bags is None else bags.get(i)
        with no_sync(model, skip=j < len(passes) - 1):
            with prec.autocast():
                out = _forward(model, examples[i], feats, d.device, cfg.max_train_patches, rng, cfg.modality_dropout)
                loss = _loss(out, examples[i], cfg, d.device, epoch)
            prec.backward(loss * (scale if real else 0.0))
        if real:
            loss_sum += float(loss.detach())
            risks[i] = float(out.risk.detach())
    return loss_sum, risks


def _batched_step(model, examples, step, cfg: TrainConfig, fold: int, epoch: int, d: Dist, n_step_index: int,
                  prec: Precision) -> tuple[float, dict[int, float]]:
    """This rank's share of ``step`` in one ``genomics_logits`` pass; as :func:`_accumulated_step`.

    The mean loss of the B local patients is scaled by B·world/|step| (= the sum
    of their losses · world/|step|, the accumulated path's scaling). The pass
    bypasses a DDP wrapper, so the gradients are averaged over ranks here; a
    rank without a patient runs a zero-weighted pass to join that all-reduce.
    """
    module = getattr(model, "module", model)
    local = [int(i) for i in step[d.rank :: d.world]]
    batch = [examples[i] for i in (local or [int(step[0])])]
    _seed_torch(patient_key(cfg.seed, fold, epoch, _STEP_TAG, n_step_index, d.rank))
    y = torch.tensor([e.bin for e in batch], device=d.device)
    c = torch.tensor([e.censorship for e in batch], device=d.device)
    with prec.autocast():
        logits = module.genomics_logits(_stack_omics(batch, d.device))  # (B, K)
        loss = nll_loss(logits, y, c, alpha=cfg.alpha_surv)  # mean over the B patients
    prec.backward(loss * (len(local) * d.world / len(step)))
    d.average_gradients(module.parameters())
    risk = risk_from_survival(survival_from_hazards(hazards_from_logits(logits.detach())))
    return float(loss.detach()) * len(local), {i: float(r) for i, r in zip(local, risk)}


def _prefetcher(examples, order, cfg: TrainConfig, d: Dist, batched: bool) -> Prefetcher | None:
    """The epoch's bags read ahead in this rank's pass order (None when off or nothing to read)."""
    if cfg.prefetch_bags <= 0 or batched or not any(e.use_path for e in examples):
        return None
    G = cfg.grad_accum
    plan = [i for s in range(0, len(order), G) for i, _ in _rank_passes(order[s : s + G], d)]
    return Prefetcher(lambda i: examples[i].features(), plan, cfg.prefetch_bags)


def _run_epoch(model, opt, examples, cfg: TrainConfig, fold: int, epoch: int, d: Dist, on_step,
               prec: Precision) -> tuple[float, dict[int, float]]:
    """One pass over ``examples``; returns (mean loss over patients, {patient index: train-mode risk})."""
    n = len(examples)
    order = np.random.default_rng(patient_key(cfg.seed, fold, epoch, 104729)).permutation(n)
    G = cfg.grad_accum
    batched = cfg.batch_genomics and _batchable(getattr(model, "module", model), examples)
    loss_sum, count, risks = 0.0, 0, {}
    model.train()
    bags = _prefetcher(examples, order, cfg, d, batched)
    with bags if bags is not None else contextlib.nullcontext():
        for s in range(0, n, G):
            step = order[s : s + G]
            if batched:
                part, step_risks = _batched_step(model, examples, step, cfg, fold, epoch, d, s // G, prec)
            else:
                part, step_risks = _accumulated_step(model, examples, step, cfg, fold, epoch, d, prec, bags)
            loss_sum += part
            count += len(step_risks)
            risks.update(step_risks)
            stepped = prec.step(opt)
            opt.zero_grad(set_to_none=True)
            if stepped and cfg.l1_genomic > 0:
                soft_threshold(getattr(model, "module", model).genomic_input_weights(), cfg.lr * cfg.l1_genomic)
            if on_step is not None:
                on_step(len(step), loss_sum / max(count, 1))
    total = d.sum([loss_sum, float(count)])
    merged = {}
    for part in d.gather(risks):
        merged.update(part)
    return total[0] / max(total[1], 1.0), merged


def fit_fold(
    model: nn.Module,
    train: list[Example],
    cfg: TrainConfig,
    fold: int,
    d: Dist,
    *,
    monitor: list[Example] | None = None,
    log: Callable[[dict], None] | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> FitResult:
    """Train ``model`` (possibly DDP-wrapped) on ``train``; return the selected state.

    Args:
        monitor: the outer validation fold, evaluated every ``cfg.eval_every``
            epochs for the progress log only (never used to select).
        log: called with one progress record per epoch (on every rank; rank 0 writes it).
        on_step: called after each optimiser step with (patients in the step, running mean loss).
    """
    inner: list[Example] = []
    if cfg.selection == "inner_val":
        train, inner = split_inner(train, cfg.inner_val_fraction, cfg.seed, fold)
    opt = _make_optimizer(model, cfg)
    module = getattr(model, "module", model)
    prec = Precision.for_device(cfg.autocast, d.device)
    notes = _option_notes(module, cfg, prec)
    best = (-math.inf, None, cfg.epochs)
    history = []
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        loss, risks = _run_epoch(model, opt, train, cfg, fold, epoch, d, on_step, prec)
        idx = sorted(risks)
        rec = {
            "event": "epoch",
            "fold": fold,
            "epoch": epoch,
            "epochs": cfg.epochs,
            "loss": loss,
            "train_c_index": _c_index([train[i].time for i in idx], [train[i].censorship for i in idx], [risks[i] for i in idx]),
            **notes,
        }
        if inner:
            r, _ = predict_examples(module, inner, d)
            ci = _c_index([e.time for e in inner], [e.censorship for e in inner], r)
            rec["inner_c_index"] = ci
            if ci is not None and ci > best[0]:
                best = (ci, copy.deepcopy(module.state_dict()), epoch)
        if monitor and cfg.eval_every and (epoch % cfg.eval_every == 0 or epoch == cfg.epochs):
            r, _ = predict_examples(module, monitor, d)
            rec["val_c_index"] = _c_index([e.time for e in monitor], [e.censorship for e in monitor], r)
        rec["seconds"] = time.perf_counter() - t0
        history.append(rec)
        if log is not None:
            log(rec)
    set_activation_checkpointing(module, False)
    if best[1] is not None:
        module.load_state_dict(best[1])
        return FitResult(best[1], best[2], history)
    return FitResult(copy.deepcopy(module.state_dict()), cfg.epochs, history)


def _option_notes(module: nn.Module, cfg: TrainConfig, prec: Precision) -> dict[str, str]:
    """Switch the large-bag options on ``module``; what the epoch records say about them (nothing when off)."""
    notes = {}
    if cfg.autocast != "off":
        notes["autocast"] = prec.note
    if cfg.activation_checkpointing:
        n = set_activation_checkpointing(module, True)
        notes["activation_checkpointing"] = (f"the layers of {n} expert(s) recomputed in backward" if n
                                             else "not applied: this model has no expert scan layers")
    return notes
