"""The one registry of models and choices (timm's ``_registry.py`` style).

Models: each model has one light entry here (:data:`MODELS`): its name, where its
class lives, the modalities it reads, a one-line description and the ablation
switches it honours. ``ModelConfig``, ``build_model``, the ablation grid, the
``memamba`` command's ``--model`` choices and the dashboard's widgets all read
this table — without importing a model class (or torch) until
``model_entry(name).cls`` is asked for. The class confirms its entry with
:func:`register_model`.

Adding a baseline is one new file and one line here::

    # memamba_core/models/my_baseline.py
    @register_model("my_baseline")
    class MyBaseline(SurvivalModel): ...

    # MODELS, the one registry line
    ModelEntry("my_baseline", ("pathology",), "mean-pooled patches → MLP", where="memamba_core.models.my_baseline:MyBaseline"),

A module outside this table may instead register its models with the whole entry
(``@register_model("x", reads=..., description=...)``) and be named in
:data:`MODEL_MODULES`; such modules are imported when the model list is first needed.

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
    "parallel": {  # how torchrun's ranks share a cross-validation (one process: no effect)
        "auto": "folds when at least as many folds are left as ranks, else data",
        "folds": "each rank trains whole folds (or ablation cells) alone, as one process would",
        "data": "every fold in turn, each optimiser step's patients split over the ranks",
    },
}


@dataclass(frozen=True)
class ModelEntry:
    """One model: ``reads`` ⊆ :data:`MODALITIES`; ``switches``: the ``ModelConfig`` ablation switches this
    model honours (the ablation grid varies only these); ``where``: ``"module:Class"`` of its class.
    :attr:`cls` imports that module on first use."""

    name: str
    reads: tuple[str, ...]
    description: str
    switches: tuple[str, ...] = ()
    where: str = ""

    @property
    def cls(self) -> type:
        """The model class (its module imported now if it was not yet)."""
        if self.name not in _CLASSES and self.where:
            importlib.import_module(self.where.partition(":")[0])
        if self.name not in _CLASSES:
            raise RuntimeError(f"model {self.name!r}: {self.where or 'its module'} did not register a class "
                               f"(@register_model({self.name!r}) on {self.where.partition(':')[2] or 'the class'}).")
        return _CLASSES[self.name]


MODALITIES = ("pathology", "genomics")  # what a model can read

# The models: one light entry each (no class imported until ModelEntry.cls).
MODELS = (
    ModelEntry("memamba", ("pathology", "genomics"),
               "multi-expert Mamba: pathology, genomics and OT-aligned synergistic experts, attention aggregation",
               switches=("scan_forward", "scan_reverse", "scan_ranked", "ot", "mmd_weight", "interleave"),
               where="memamba_core.models.memamba:MEMamba"),
    ModelEntry("abmil", ("pathology",), "gated-attention MIL pooling of the patch bag",
               where="memamba_core.models.baselines:ABMIL"),
    ModelEntry("snn", ("genomics",), "MCAT's self-normalising network on the gene groups",
               where="memamba_core.models.baselines:SNN"),
    ModelEntry("mambamil", ("pathology",), "residual Mamba layers over the patches, attention pooling (MambaMIL-like)",
               where="memamba_core.models.baselines:MambaMIL"),
    ModelEntry("late_fusion", ("pathology", "genomics"), "ABMIL and SNN embeddings concatenated, MLP head",
               where="memamba_core.models.baselines:LateFusion"),
)

# modules outside MODELS whose import registers models with their whole entry (imported by model_names())
MODEL_MODULES: tuple[str, ...] = ()

_MODELS: dict[str, ModelEntry] = {e.name: e for e in MODELS}  # every known entry, in listing order
_CLASSES: dict[str, type] = {}  # name → class, once its module registered it
_loaded = False


def register_model(name: str, *, reads: tuple[str, ...] | None = None, description: str | None = None,
                   switches: tuple[str, ...] = ()):
    """Class decorator: bind a :class:`~memamba_core.models.base.SurvivalModel` subclass to model ``name``.

    A model of :data:`MODELS` gives its name only (the entry there says the rest); a model
    registered elsewhere gives ``reads`` and ``description`` (and ``switches``) too.

    Raises:
        ValueError: a name already taken by another class, a class that is not the one its entry
        names, ``reads`` missing or not a non-empty subset of MODALITIES (programming errors, not user input).
    """
    declared = next((e for e in MODELS if e.name == name), None)
    if declared is None:
        reads = tuple(reads or ())
        if not reads or any(m not in MODALITIES for m in reads):
            raise ValueError(f"register_model({name!r}): reads must be a non-empty subset of {MODALITIES}, got {reads}.")
        if description is None:
            raise ValueError(f"register_model({name!r}): a model outside registry.MODELS needs a description.")

    def decorate(cls: type) -> type:
        old = _CLASSES.get(name)
        if old is not None and old.__qualname__ != cls.__qualname__:
            raise ValueError(f"register_model: {name!r} is already registered by {old.__qualname__}.")
        if declared is not None:
            owner = declared.where.partition(":")[2]
            if cls.__qualname__ != owner:
                raise ValueError(f"register_model: {name!r} is already registered by {owner}.")
            if reads is not None or description is not None:
                raise ValueError(f"register_model({name!r}): its reads and description are its registry.MODELS "
                                 f"entry's; give the name only.")
        else:
            _MODELS[name] = ModelEntry(name, reads, description, tuple(switches), f"{cls.__module__}:{cls.__qualname__}")
        _CLASSES[name] = cls
        return cls

    return decorate


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in MODEL_MODULES:
            importlib.import_module(module)
        _loaded = True


def model_names() -> tuple[str, ...]:
    """Every model name: :data:`MODELS` in order (``memamba`` first), then those of :data:`MODEL_MODULES`
    and any registered elsewhere, in registration order. Imports no model class of :data:`MODELS`."""
    _load()
    return tuple(_MODELS)


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
    ``folds``, ``parallel``, ``benchmark_model`` (the models of ``memamba benchmark``)."""
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
