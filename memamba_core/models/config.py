"""Model configuration: one dataclass, every ablation switch a field.

Glossary: D_in patch-feature width, G genomic groups, d model width,
E = expand·d Mamba inner width, S state size, K time bins.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from ..errors import InputError
from .registry import check_choice, modality_reads, model_reads

__all__ = ["ModelConfig", "SWITCHES"]

# fields that change behaviour, not weights: with_switches may change these on a loaded model
SWITCHES = (
    "scan_forward",
    "scan_reverse",
    "scan_ranked",
    "ot",
    "sinkhorn_eps",
    "sinkhorn_iters",
    "mmd_weight",
    "interleave",
    "modalities",
    "backend",
)


@dataclass
class ModelConfig:
    """Architecture and ablation switches of every model the project builds.

    ``to_dict`` / ``from_dict`` round-trip through JSON. Invalid values raise
    :class:`~memamba_core.errors.InputError` naming the field and the fix.
    Derived (not serialised): ``d_inner`` = E, ``dt_rank`` = ⌈d/16⌉.

    Example:
        >>> cfg = ModelConfig(omic_sizes=(80, 300), scan_ranked=False)
        >>> ModelConfig.from_dict(cfg.to_dict()) == cfg
        True
    """

    model: str = "memamba"  # a registered model (models.registry.model_names())
    path_input_dim: int = 1024  # D_in, the patch-feature width
    omic_sizes: tuple[int, ...] = ()  # genes per genomic group (G groups)
    d_model: int = 256  # d
    d_state: int = 16  # S
    expand: int = 2  # E = expand · d
    d_conv: int = 4  # causal conv width of the Mamba block
    n_bins: int = 4  # K
    n_layers: int = 2  # residual three-branch layers per unimodal expert (and mambamil layers)
    dropout: float = 0.25
    scan_forward: bool = True  # ablation: standard scan branch on/off
    scan_reverse: bool = True  # ablation: reverse scan branch on/off
    scan_ranked: bool = True  # ablation: attention-ranked scan branch on/off
    ot: str = "hard"  # ablation: token alignment, a registry.ot_choices() value (off | hard argmin | sinkhorn entropic)
    sinkhorn_eps: float = 0.1  # entropic regularisation ε when ot = "sinkhorn"
    sinkhorn_iters: int = 50  # Sinkhorn iterations when ot = "sinkhorn"
    mmd_weight: float = 0.1  # ablation: weight of the MMD term (0 = off)
    interleave: bool = True  # ablation: interleaved [p̃1, g1, …] vs concatenated [p̃…, g…]
    modalities: str = "both"  # ablation: a registry.modality_choices() value (both | pathology | genomics)
    backend: str = "auto"  # selective-scan backend, one of memamba_core.ssm.BACKENDS
    d_inner: int = field(init=False, repr=False, compare=False)
    dt_rank: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            self.omic_sizes = tuple(int(s) for s in self.omic_sizes)
        except (TypeError, ValueError):
            raise InputError(
                f"Model config: omic_sizes must be a list of gene counts per group, got {self.omic_sizes!r}."
            ) from None
        self._check()
        self.d_inner = self.expand * self.d_model
        self.dt_rank = math.ceil(self.d_model / 16)

    def _check(self) -> None:
        for name in ("model", "ot", "modalities", "backend"):
            check_choice(name, getattr(self, name), "Model config")
        for name in ("path_input_dim", "d_model", "d_state", "expand", "d_conv", "n_bins", "n_layers", "sinkhorn_iters"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"Model config: {name} must be a positive integer, got {value!r}.")
        for name in ("dropout", "mmd_weight", "sinkhorn_eps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(f"Model config: {name} must be a number, got {value!r}.")
        if any(s < 1 for s in self.omic_sizes):
            raise InputError(f"Model config: omic_sizes must all be ≥ 1, got {list(self.omic_sizes)}.")
        if not 0.0 <= self.dropout < 1.0:
            raise InputError(f"Model config: dropout must be in [0, 1), got {self.dropout}.")
        if not self.mmd_weight >= 0.0:
            raise InputError(f"Model config: mmd_weight must be ≥ 0 (0 turns MMD off), got {self.mmd_weight}.")
        if not self.sinkhorn_eps > 0.0:
            raise InputError(f"Model config: sinkhorn_eps must be > 0, got {self.sinkhorn_eps}.")
        for name in ("scan_forward", "scan_reverse", "scan_ranked", "interleave"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"Model config: {name} must be true or false, got {getattr(self, name)!r}.")

    @property
    def uses_pathology(self) -> bool:
        """Whether this model reads the patch bag (its kind allows it and modalities keeps it)."""
        return "pathology" in model_reads(self.model) and "pathology" in modality_reads(self.modalities)

    @property
    def uses_genomics(self) -> bool:
        """Whether this model reads the genomic groups (its kind allows it and modalities keeps it)."""
        return "genomics" in model_reads(self.model) and "genomics" in modality_reads(self.modalities)

    @property
    def branches(self) -> tuple[str, ...]:
        """The scan branches switched on, in the order forward, reverse, ranked."""
        on = (("forward", self.scan_forward), ("reverse", self.scan_reverse), ("ranked", self.scan_ranked))
        return tuple(name for name, flag in on if flag)

    def check_buildable(self) -> None:
        """Raise InputError when the model would read genomics but no gene groups are given."""
        if self.uses_genomics and not self.omic_sizes:
            raise InputError(
                f"Model config: model {self.model!r} with modalities={self.modalities!r} needs genomics, but "
                "omic_sizes is empty; pass the size of each gene group, or use modalities='pathology'."
            )

    def to_dict(self) -> dict:
        """JSON-safe dict of the init fields (tuples become lists)."""
        out = {}
        for f in dataclasses.fields(self):
            if f.init:
                value = getattr(self, f.name)
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """Inverse of :meth:`to_dict`. Unknown keys raise InputError (a config from another version)."""
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(
                f"Model config has unknown field(s) {', '.join(unknown)}; known fields: {', '.join(sorted(known))}."
            )
        return cls(**data)
