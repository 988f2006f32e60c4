"""The training configuration: optimiser, schedule, selection rule, folds — and the nested model config.

A :class:`TrainConfig` is everything that decides a cross-validated run apart
from the cohort. It is stored in the run folder's run record; rerunning with a
different config on the same folder is refused (see :mod:`memamba_core.runs`).
Its choice fields (optimizer, selection, folds) take the registry's values
(:func:`memamba_core.models.choices`).

The model's data-dependent fields (``path_input_dim``, ``omic_sizes``) come
from the cohort at training time (``train.cv.resolve_model_config``), so they
are not part of a TrainConfig's JSON; until then the nested ModelConfig holds
placeholders (``omic_sizes=(1,)``, which ModelConfig's validation needs).
``n_bins`` here overrides the model's.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..models import ModelConfig, choices
from ..runs import RUN_FORMAT, RunRecord

__all__ = ["TrainConfig", "model_template", "DATA_FIELDS"]

DATA_FIELDS = ("path_input_dim", "omic_sizes")  # ModelConfig fields filled from the cohort


def model_template(**fields) -> ModelConfig:
    """A ModelConfig for a TrainConfig: ``fields`` set, data-dependent fields left as placeholders."""
    fields.setdefault("omic_sizes", (1,))
    return ModelConfig(**fields)


@dataclass
class TrainConfig:
    """How to train and cross-validate one model config.

    Batch size is one patient (bags differ in length); ``grad_accum`` patients
    are accumulated per optimiser step (MCAT's ``gc``), their losses averaged.
    A genomics-only model (fixed-shape inputs) takes a step's patients in one
    batched pass instead (``batch_genomics``): the same update, much faster.
    """

    model: ModelConfig = field(default_factory=model_template)
    optimizer: str = "adamw"  # adam (the paper's) | adamw
    lr: float = 2e-4  # learning rate
    weight_decay: float = 1e-5  # L2 (adam) or decoupled decay (adamw)
    epochs: int = 20  # passes over the training patients of a fold
    grad_accum: int = 32  # patients per optimiser step (batch of one, accumulated)
    batch_genomics: bool = True  # genomics-only models: a step's patients in one batched pass (False: one pass per patient)
    alpha_surv: float = 0.0  # MCAT's up-weighting of the uncensored NLL term
    modality_dropout: float = 0.0  # bimodal models: drop the slide, or else the genomics, each with this probability per training pass (0 = off)
    expert_aux_weight: float = 0.0  # multi-expert models: + this weight × the mean NLL of each expert's own prediction (0 = off)
    expert_warmup_epochs: int = 0  # multi-expert models: the first this many epochs train on the experts' own predictions only (0 = off)
    l1_genomic: float = 0.0  # proximal L1 on the genomic input weights: soft-threshold by lr·λ after each step (0 = off)
    seed: int = 0  # model init, patient order, dropout, patch subsampling
    selection: str = "last"  # last: report the last epoch | inner_val: best epoch on an inner split of the training fold
    inner_val_fraction: float = 0.2  # share of the training fold carved out when selection = inner_val
    max_train_patches: int = 4096  # random subsample of longer bags during training, drawn afresh each pass, spatial order kept; inference sees all (0 = all patches)
    activation_checkpointing: bool = False  # recompute the experts' scan layers in backward instead of storing their activations (less memory on long bags, same gradients)
    autocast: str = "off"  # off | bf16 | fp16: mixed precision on CUDA (fp16 with loss scaling); on CPU not applied, and the run log says so
    prefetch_bags: int = 0  # bags a background thread reads ahead of the model (0 = read each bag when it is needed)
    n_bins: int = 4  # K time bins (quartiles of uncensored training times); overrides model.n_bins
    num_threads: int = 0  # torch CPU threads (0 = torch's default)
    folds: str = "auto"  # auto: the cohort's split files if any, else generated | splits | generated
    n_folds: int = 5  # number of generated folds
    eval_every: int = 1  # evaluate the validation fold every N epochs for the progress log (0 = only at the end)

    def __post_init__(self):
        if isinstance(self.model, dict):
            self.model = model_template(**self.model)
        self.validate()

    def validate(self) -> None:
        """Raise InputError naming the field and the allowed values."""
        checks = [
            (getattr(self, name) in choices(name), f"{name} must be one of {', '.join(choices(name))}, got {getattr(self, name)!r}")
            for name in ("optimizer", "selection", "autocast", "folds")  # the choice fields (models.registry)
        ] + [
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (self.weight_decay >= 0, f"weight_decay must be ≥ 0, got {self.weight_decay}"),
            (self.epochs >= 1, f"epochs must be ≥ 1, got {self.epochs}"),
            (self.grad_accum >= 1, f"grad_accum must be ≥ 1, got {self.grad_accum}"),
            (isinstance(self.batch_genomics, bool), f"batch_genomics must be true or false, got {self.batch_genomics!r}"),
            (0 <= self.alpha_surv <= 1, f"alpha_surv must be in [0, 1], got {self.alpha_surv}"),
            (0 <= self.modality_dropout <= 0.5, f"modality_dropout must be in [0, 0.5] (each modality is dropped with this probability, never both), got {self.modality_dropout}"),
            (self.expert_aux_weight >= 0, f"expert_aux_weight must be ≥ 0 (0 = off), got {self.expert_aux_weight}"),
            (0 <= self.expert_warmup_epochs <= self.epochs, f"expert_warmup_epochs must be in [0, epochs = {self.epochs}] (0 = off), got {self.expert_warmup_epochs}"),
            (self.l1_genomic >= 0, f"l1_genomic must be ≥ 0 (0 = off), got {self.l1_genomic}"),
            (0 < self.inner_val_fraction < 0.5, f"inner_val_fraction must be in (0, 0.5), got {self.inner_val_fraction}"),
            (self.max_train_patches >= 0, f"max_train_patches must be ≥ 0 (0 = all), got {self.max_train_patches}"),
            (isinstance(self.activation_checkpointing, bool), f"activation_checkpointing must be true or false, got {self.activation_checkpointing!r}"),
            (isinstance(self.prefetch_bags, int) and self.prefetch_bags >= 0, f"prefetch_bags must be an integer ≥ 0 (0 = off), got {self.prefetch_bags!r}"),
            (self.n_bins >= 2, f"n_bins must be ≥ 2, got {self.n_bins}"),
            (self.num_threads >= 0, f"num_threads must be ≥ 0, got {self.num_threads}"),
            (self.n_folds >= 2, f"n_folds must be ≥ 2, got {self.n_folds}"),
            (self.eval_every >= 0, f"eval_every must be ≥ 0, got {self.eval_every}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise InputError(f"training config: {msg}.")

    def to_dict(self) -> dict:
        """JSON-safe dict; ``model`` nested as ``ModelConfig.to_dict()`` without the data-dependent fields."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "model"}
        model = {k: v for k, v in self.model.to_dict().items() if k not in DATA_FIELDS}
        return {"model": model, **d}

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "training config") -> "TrainConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an InputError naming them."""
        if not isinstance(d, dict):
            raise InputError(f"{source}: expected a JSON object of training settings.")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise InputError(f"{source}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(names))}.")
        d = dict(d)
        if "model" in d:
            m = d["model"]
            if not isinstance(m, dict):
                raise InputError(f"{source}: 'model' must be a JSON object of ModelConfig fields.")
            known = {f.name for f in dataclasses.fields(ModelConfig) if f.init}
            bad = sorted(set(m) - known)
            if bad:
                raise InputError(f"{source}: unknown model field(s) {', '.join(bad)}; allowed: {', '.join(sorted(known))}.")
            d["model"] = model_template(**m)
        try:
            return cls(**d)
        except TypeError as err:
            raise InputError(f"{source}: {err}.") from err

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, path: str | Path) -> "TrainConfig":
        """Read a config JSON file: one written by hand, or a cv run folder's run record (its training config)."""
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise InputError(f"{p}: cannot read a training config ({err}); give a JSON file of TrainConfig fields.") from err
        if isinstance(data, dict) and data.get("format") == RUN_FORMAT:  # a run folder's run record
            record = RunRecord.from_dict(data, source=str(p))
            if record.train is None:
                raise InputError(f"{p}: a {record.kind} run's record holds no single training config; give a cv run's record.")
            data = record.train
        return cls.from_dict(data, source=str(p))

    def replace(self, **changes) -> "TrainConfig":
        """A copy with fields changed; ``model=dict(...)`` changes model fields."""
        if isinstance(changes.get("model"), dict):
            changes["model"] = dataclasses.replace(self.model, **changes["model"])
        return dataclasses.replace(self, **changes)
