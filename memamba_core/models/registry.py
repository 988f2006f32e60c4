"""The one registry of models and choices (timm's ``_registry.py`` style).

Models: a model class registers itself with :func:`register_model` — its name,
the modalities it reads, a one-line description, and the ablation switches it
honours. ``ModelConfig``, ``build_model``, the ablation grid, the ``memamba``
command's ``--model`` choices and the dashboard's widgets all read this table.

Adding a baseline is one new file and one line here::

    # memamba_core/models/my_baseline.py
    @register_model("my_baseline", reads=("pathology",), description="mean-pooled patches → MLP")
    class MyBaseline(SurvivalModel): ...

    MODEL_MODULES = (..., "memamba_core.models.my_baseline")   # the one registry line

Choices: the allowed values of every string field of ``ModelConfig`` and
``TrainConfig`` (:func:`choices`), with a one-line description each
(:func:`describe_choice`); the scan backends come from :mod:`memamba_core.ssm`,
which owns them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ..errors import InputError

__all__ = [
    "ModelEntry",
    "register_model",
    "MODEL_MODULES",
    "MODALITIES",
    "model_names",
    "model_entry",
    "model_reads",
    "describe",
    "choices",
    "describe_choice",
    "check_choice",
    "modality_choices",
    "modality_reads",
    "ot_choices",
    "backend_choices",
]

# modules whose import registers models (adding a model = one more entry)
MODEL_MODULES = ("memamba_core.models.memamba", "memamba_core.models.baselines")

MODALITIES = ("pathology", "genomics")  # what a model can read
_MODALITY_READS = {"both": MODALITIES, "pathology": ("pathology",), "genomics": ("genomics",)}  # a modalities value → what it keeps

_CHOICES: dict[str, dict[str, str]] = {
    "ot": {
        "off": "no token alignment: the Synergistic Expert reads the tokens as they are",
        "hard": "each patch sends its mass to its cheapest gene group (argmin, the paper's form)",
        "sinkhorn": "entropic optimal transport (soft plan, uniform marginals)",
    },
    "modalities": {
        "both": "pathology and genomics (a patient missing one is scored on the other)",
        "pathology": "the patch bag only",
        "genomics": "the gene groups only",
    },
    "optimizer": {"adam": "Adam (the paper's)", "adamw": "AdamW (decoupled weight decay)"},
    "selection": {
        "last": "report the model after the last epoch",
        "inner_val": "the best epoch on an inner split of the training fold",
    },
    "autocast": {
        "off": "full precision (float32)",
        "bf16": "bfloat16 autocast on CUDA (not applied on CPU)",
        "fp16": "float16 autocast on CUDA with loss scaling (not applied on CPU)",
    },
    "benchmark_model": {  # memamba benchmark's models (memamba_core.train.leaderboard)
        "memamba_genomics": "ME-Mamba's genomics path: a token per gene group, the Genomics Expert, fixed recipe",
        "memamba_clinical": "the same with the clinical variables (age, sex, stage, grade as present) as extra tokens",
        "snn": "MCAT's self-normalising network on the same genes, fixed recipe",
        "coxnet": "elastic-net Cox on the same genes, penalty chosen by inner CV on the training fold",
        "clinical_cox": "elastic-net Cox on the clinical variables alone, penalty chosen by inner CV",
    },
    "folds": {
        "auto": "the cohort's split files if it has them, else generated folds",
        "splits": "the cohort's split files (an error without them)",
        "generated": "patient-level folds stratified by event (--n-folds, --seed)",
    },
}


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: ``reads`` ⊆ :data:`MODALITIES`; ``switches``: the ``ModelConfig`` ablation
    switches this model honours (the ablation grid varies only these)."""

    name: str
    cls: type
    reads: tuple[str, ...]
    description: str
    switches: tuple[str, ...] = ()


_MODELS: dict[str, ModelEntry] = {}
_loaded = False


def register_model(name: str, *, reads: tuple[str, ...], description: str, switches: tuple[str, ...] = ()):
    """Class decorator: register a :class:`~memamba_core.models.base.SurvivalModel` subclass under ``name``.

    Raises:
        ValueError: a name already taken by another class, or ``reads`` not a non-empty subset of MODALITIES
        (programming errors, not user input).
    """
    reads = tuple(reads)
    if not reads or any(m not in MODALITIES for m in reads):
        raise ValueError(f"register_model({name!r}): reads must be a non-empty subset of {MODALITIES}, got {reads}.")

    def decorate(cls: type) -> type:
        old = _MODELS.get(name)
        if old is not None and old.cls.__qualname__ != cls.__qualname__:
            raise ValueError(f"register_model: {name!r} is already registered by {old.cls.__qualname__}.")
        _MODELS[name] = ModelEntry(name, cls, reads, description, tuple(switches))
        return cls

    return decorate


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in MODEL_MODULES:
            importlib.import_module(module)
        _loaded = True


def model_names() -> tuple[str, ...]:
    """Every registered model name: by module in :data:`MODEL_MODULES` order (``memamba`` first), then any
    registered elsewhere; within a module in registration order."""
    _load()
    rank = {m: i for i, m in enumerate(MODEL_MODULES)}
    order = sorted(enumerate(_MODELS.values()), key=lambda ie: (rank.get(ie[1].cls.__module__, len(rank)), ie[0]))
    return tuple(e.name for _, e in order)


def model_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``; InputError naming the registered models."""
    _load()
    if name not in _MODELS:
        raise InputError(f"Unknown model {name!r}; choose one of {', '.join(model_names())}.")
    return _MODELS[name]


def model_reads(name: str) -> tuple[str, ...]:
    """The modalities model ``name`` can read (a subset of :data:`MODALITIES`)."""
    return model_entry(name).reads


def describe(name: str) -> str:
    """One line about model ``name``: what it is and what it reads."""
    e = model_entry(name)
    return f"{e.description} (reads {' + '.join(e.reads)})"


def backend_choices() -> tuple[str, ...]:
    """The selective-scan backends (owned by :mod:`memamba_core.ssm`)."""
    from ..ssm import BACKENDS

    return tuple(BACKENDS)


def choices(field: str) -> tuple[str, ...]:
    """Allowed values of a string field: ``model``, ``backend``, ``ot``, ``modalities``, ``optimizer``, ``selection``, ``autocast``,
    ``folds``, ``benchmark_model`` (the models of ``memamba benchmark``)."""
    if field == "model":
        return model_names()
    if field == "backend":
        return backend_choices()
    if field not in _CHOICES:
        raise KeyError(f"no choice list for {field!r}; known: model, backend, {', '.join(_CHOICES)}")
    return tuple(_CHOICES[field])


def describe_choice(field: str, value: str) -> str:
    """One line about ``value`` of ``field`` (a model's :func:`describe`; '' for a backend)."""
    check_choice(field, value)
    if field == "model":
        return describe(value)
    return _CHOICES.get(field, {}).get(value, "")


def check_choice(field: str, value: object, where: str = "config") -> None:
    """InputError ``"<where>: <field>=<value> is not one of …"`` unless ``value`` is allowed."""
    allowed = choices(field)
    if value not in allowed:
        raise InputError(f"{where}: {field}={value!r} is not one of {', '.join(allowed)}.")


def modality_choices() -> tuple[str, ...]:
    """Values of ``ModelConfig.modalities``."""
    return choices("modalities")


def modality_reads(modalities: str) -> tuple[str, ...]:
    """The modalities a ``ModelConfig.modalities`` value keeps (``"both"`` → pathology and genomics)."""
    check_choice("modalities", modalities)
    return _MODALITY_READS[modalities]


def ot_choices() -> tuple[str, ...]:
    """Values of ``ModelConfig.ot``."""
    return choices("ot")
