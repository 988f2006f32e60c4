"""What drives one patient's risk, each effect with its direction (towards higher or lower risk).

- **Modalities**: the patient scored with pathology only and genomics only
  through the same weights (:func:`memamba_core.models.with_switches`); a
  modality's effect is risk(both) − risk(without it), beside the head's expert weights.
- **Patches**: the top-k patches by the Pathology Expert's pooling attention;
  each patch's effect is risk(bag) − risk(bag without that patch) (occlusion).
- **Gene groups and genes**: integrated gradients of the risk with respect to
  the standardised gene values (:mod:`.integrated_gradients`), baseline 0 =
  the training patients' mean (the scaler's centre), the slide held fixed.
  By completeness the attributions add up to risk(patient) − risk(average genomics);
  a group's effect is the sum over its inputs; a gene's is the sum over its
  ``_rnaseq``/``_cnv``/``_mut`` inputs in every group it belongs to.
  Completeness holds exactly for a smooth model; ME-Mamba's transport plan
  (computed without gradient) and attention-ranked sort (a permutation) are
  not differentiated through, so :attr:`Drivers.ig_delta` reports the part
  of the risk change the attributions miss (a few % of the total absolute attribution
  on the demo checkpoint; under 1 % with OT off and no ranked branch).

Units: the fold model's raw risk, multiplied by ``scale`` — pass the
calibration map's local slope dz/drisk (:func:`risk_slope`) to get units of
the scale-free score (SDs of the training patients' scores), which are
comparable across fold models, so an ensemble's drivers are the mean of its
models' (:func:`mean_drivers`).

Glossary: N patches, G gene groups, C gene inputs (Σ size_g), k top patches.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from ..data import Cohort, GeneGroups
from ..data.groups import GENOMIC_SUFFIXES
from ..errors import InputError
from ..models import with_switches
from ..survival.calibration import CalibrationMap
from ..train.predict import check_compatible
from .integrated_gradients import integrated_gradients

__all__ = [
    "ModalityEffect",
    "PatchEffect",
    "GeneEffect",
    "GroupEffect",
    "Drivers",
    "direction",
    "modality_effects",
    "patch_effects",
    "gene_effects",
    "risk_slope",
    "explain",
    "explain_patient",
    "scored_drivers",
    "mean_drivers",
]


def direction(effect: float) -> str:
    """The words the page shows for an effect's sign."""
    return "towards higher risk" if effect > 0 else ("towards lower risk" if effect < 0 else "no effect")


@dataclass(frozen=True)
class ModalityEffect:
    """``risk_alone``: the risk from this modality alone (None if missing); ``effect``: risk(both) − risk(without it)
    (None when the patient has only this modality or lacks it)."""

    modality: str
    available: bool
    risk_alone: float | None
    effect: float | None
    expert_weight: float

    @property
    def status(self) -> str:
        """What the page and the report say of it: missing, the only modality present, or the effect's direction."""
        if not self.available:
            return "missing: the patient was scored without it"
        return "the only modality present" if self.effect is None else direction(self.effect)


@dataclass(frozen=True)
class PatchEffect:
    """A top patch: its index in the bag, attention weight, occlusion effect, level-0 (x, y) when known."""

    index: int
    attention: float
    effect: float
    coord: tuple[int, int] | None


@dataclass(frozen=True)
class GeneEffect:
    gene: str
    effect: float
    inputs: tuple[str, ...]  # the genomic columns summed into it


@dataclass(frozen=True)
class GroupEffect:
    """A gene group's effect and its genes (inside the group), largest |effect| first."""

    group: str
    effect: float
    genes: tuple[GeneEffect, ...]

    def gene_rows(self, n: int = 12) -> pd.DataFrame:
        """The group's ``n`` genes with the largest |effect|: effect, direction, the genomic inputs summed into it."""
        return pd.DataFrame([{"gene": x.gene, "effect": round(x.effect, 4), "direction": direction(x.effect),
                              "inputs": ", ".join(x.inputs)} for x in self.genes[:n]],
                            columns=["gene", "effect", "direction", "inputs"])


@dataclass(frozen=True)
class Drivers:
    """Everything above for one patient. ``genes``: over all groups, largest |effect| first;
    ``ig_delta``: the completeness error of the gene attributions (same units)."""

    risk: float
    modalities: tuple[ModalityEffect, ...]
    patches: tuple[PatchEffect, ...]
    groups: tuple[GroupEffect, ...]
    genes: tuple[GeneEffect, ...]
    ig_delta: float
    units: str

    @property
    def ig_error_share(self) -> float | None:
        """|``ig_delta``| as a share of the total |gene-group attribution| (None when there is none)."""
        total = sum(abs(g.effect) for g in self.groups)
        return abs(self.ig_delta) / total if total > 0 else None

    def modality_rows(self) -> pd.DataFrame:
        """One row per modality the model reads: risk alone, effect with its direction, expert weight."""
        return pd.DataFrame([{"modality": m.modality, f"effect ({self.units})": None if m.effect is None else round(m.effect, 4),
                              "direction": m.status, "expert weight": f"{m.expert_weight:.0%}"} for m in self.modalities])

    def patch_rows(self) -> pd.DataFrame:
        """The top patches: rank, bag row, attention, occlusion effect with its direction, level-0 (x, y)."""
        return pd.DataFrame([{"rank": r + 1, "patch": p.index, "attention": round(p.attention, 4),
                              "effect": round(p.effect, 4), "direction": direction(p.effect),
                              "x, y (level 0)": "" if p.coord is None else f"{p.coord[0]}, {p.coord[1]}"}
                             for r, p in enumerate(self.patches)],
                            columns=["rank", "patch", "attention", "effect", "direction", "x, y (level 0)"])


def _risk(model, path, omics) -> float:
    with torch.no_grad():
        return float(model(path, omics).risk)


def modality_effects(model, path: torch.Tensor | None, omics: list[torch.Tensor] | None) -> tuple[ModalityEffect, ...]:
    """Per modality the model reads: risk alone and its effect (module docstring)."""
    cfg = model.cfg
    with torch.no_grad():
        full = model(path, omics)
    weights = full.expert_weights
    have = {"pathology": cfg.uses_pathology and path is not None, "genomics": cfg.uses_genomics and omics is not None}
    inputs = {"pathology": (path, None), "genomics": (None, omics)}
    alone = {}
    for m, ok in have.items():
        if ok:
            alone[m] = _risk(with_switches(model, modalities=m), *inputs[m]) if cfg.modalities == "both" else float(full.risk)
    out = []
    for m in ("pathology", "genomics"):
        if not (cfg.uses_pathology if m == "pathology" else cfg.uses_genomics):
            continue
        other = "genomics" if m == "pathology" else "pathology"
        effect = float(full.risk) - alone[other] if (have[m] and other in alone) else None
        out.append(ModalityEffect(m, have[m], alone.get(m), effect, float(weights.get(m, 0.0))))
    return tuple(out)


def patch_effects(model, path: torch.Tensor, omics, *, k: int = 8, coords: np.ndarray | None = None,
                  attention_key: str = "pathology/pool") -> tuple[PatchEffect, ...]:
    """The ``k`` patches with the highest attention, each with its occlusion effect. path: (N, D_in)."""
    with torch.no_grad():
        out = model(path, omics)
    if attention_key not in out.attention:
        raise InputError(f"the model gives no '{attention_key}' attention; choose one of {', '.join(sorted(out.attention))}.")
    att = out.attention[attention_key].detach().float().cpu().numpy()
    top = np.argsort(-att, kind="stable")[: min(k, att.size)]
    n = path.shape[0]
    effects = []
    for i in top:
        keep = torch.from_numpy(np.delete(np.arange(n), i))
        rest = _risk(model, path[keep], omics) if n > 1 else _risk(model, None, omics) if omics is not None else float("nan")
        c = None if coords is None else (int(coords[i][0]), int(coords[i][1]))
        effects.append(PatchEffect(int(i), float(att[i]), float(out.risk) - rest, c))
    return tuple(effects)


def _gene_name(column: str) -> str:
    for s in GENOMIC_SUFFIXES:
        if column.endswith(s):
            return column[: -len(s)]
    return column


def gene_effects(model, path, omics: list[torch.Tensor], groups: GeneGroups, *, steps: int = 16
                 ) -> tuple[tuple[GroupEffect, ...], tuple[GeneEffect, ...], float]:
    """Integrated gradients on the G gene tokens (baseline 0), the slide fixed → (groups, genes, completeness error)."""
    sizes = [int(t.numel()) for t in omics]
    if tuple(sizes) != groups.sizes:
        raise InputError(f"gene groups have sizes {list(groups.sizes)} but the patient's tokens {sizes}; use the model's groups.")
    flat = torch.cat([t.reshape(-1).float() for t in omics])  # (C,)
    bounds = np.cumsum([0] + sizes)

    def f(v: torch.Tensor) -> torch.Tensor:
        return model(path, [v[bounds[g]:bounds[g + 1]] for g in range(len(sizes))]).risk

    att = integrated_gradients(f, flat, steps=steps)
    vals = att.values.detach().cpu().numpy()
    per_gene: dict[str, list] = {}
    group_out = []
    for g, (name, cols) in enumerate(zip(groups.names, groups.columns)):
        v = vals[bounds[g]:bounds[g + 1]]
        inside: dict[str, list] = {}
        for col, a in zip(cols, v):
            gene = _gene_name(col)
            inside.setdefault(gene, [0.0, []])
            inside[gene][0] += float(a)
            inside[gene][1].append(col)
            per_gene.setdefault(gene, [0.0, []])
            per_gene[gene][0] += float(a)
            per_gene[gene][1].append(col)
        genes = sorted((GeneEffect(k, e, tuple(c)) for k, (e, c) in inside.items()), key=lambda x: -abs(x.effect))
        group_out.append(GroupEffect(name, float(v.sum()), tuple(genes)))
    genes = sorted((GeneEffect(k, e, tuple(dict.fromkeys(c))) for k, (e, c) in per_gene.items()), key=lambda x: -abs(x.effect))
    return tuple(sorted(group_out, key=lambda x: -abs(x.effect))), tuple(genes), att.delta


def risk_slope(cal: CalibrationMap, risk: float) -> float:
    """dz/drisk of the map's scale-free score at ``risk`` (central difference; > 0)."""
    ref = cal.reference
    h = 1e-3 * float(np.std(ref) or 1.0)
    z = cal.z([risk - h, risk + h])
    return float((z[1] - z[0]) / (2 * h))


def explain(model, path, omics, groups: GeneGroups | None, *, coords=None, k: int = 8, steps: int = 16,
            scale: float = 1.0, units: str = "model risk") -> Drivers:
    """All drivers of one patient from the model and its inputs (module docstring); effects × ``scale``."""
    if path is None and omics is None:
        raise InputError("this patient has neither a slide (patch features) nor genomics; there is nothing to explain.")
    mods = modality_effects(model, path, omics)
    patches = patch_effects(model, path, omics, k=k, coords=coords) if (path is not None and model.cfg.uses_pathology) else ()
    if omics is not None and groups is not None and model.cfg.uses_genomics:
        grp, genes, delta = gene_effects(model, path, omics, groups, steps=steps)
    else:
        grp, genes, delta = (), (), 0.0
    d = Drivers(_risk(model, path, omics), mods, patches, grp, genes, delta, units)
    return _scaled(d, scale) if scale != 1.0 else d


def _scaled(d: Drivers, s: float) -> Drivers:
    def sc(x):
        return None if x is None else x * s

    return replace(
        d,
        modalities=tuple(replace(m, effect=sc(m.effect)) for m in d.modalities),
        patches=tuple(replace(p, effect=p.effect * s) for p in d.patches),
        groups=tuple(replace(g, effect=g.effect * s, genes=tuple(replace(x, effect=x.effect * s) for x in g.genes)) for g in d.groups),
        genes=tuple(replace(x, effect=x.effect * s) for x in d.genes),
        ig_delta=d.ig_delta * s,
    )


def explain_patient(loaded, cohort: Cohort, case_id: str, *, cal: CalibrationMap | None = None, k: int = 8,
                    steps: int = 16) -> Drivers:
    """Drivers of ``case_id`` under one fold model (a :class:`~memamba_core.train.checkpoint.LoadedModel`).

    With ``cal`` (that fold's calibration map) effects are in scale-free units (module docstring).
    """
    check_compatible(loaded, cohort)
    cfg = loaded.config
    bag = cohort.load_bag(case_id) if cfg.uses_pathology else None
    omics = cohort.genomic_tokens(case_id, loaded.scaler, loaded.groups) if cfg.uses_genomics else None
    if bag is None and omics is None:
        raise InputError(f"patient {case_id} of cohort '{cohort.name}' has neither a slide (patch features) nor genomics "
                         "that this model reads; there is nothing to score or explain — pick another patient.")
    path = None if bag is None else bag.features
    d = explain(loaded.model, path, omics, loaded.groups, coords=None if bag is None else bag.coords, k=k, steps=steps)
    if cal is None:
        return d
    return replace(_scaled(d, risk_slope(cal, d.risk)), units="scale-free score (SD of training patients' scores)")


def scored_drivers(models, cohort: Cohort, maps: dict[int, CalibrationMap], folds, case_id: str, *, k: int = 8,
                   steps: int = 8) -> Drivers:
    """Drivers of ``case_id`` under the fold models that score them (who scores whom,
    :meth:`memamba_core.train.scoring.RunModels.who_scores`): that one fold's, or the mean of the ensemble's.

    Each fold's effects are put in scale-free units through its calibration map (``maps``), so that an
    ensemble's drivers can be averaged; a fold without a map keeps model units (and then an ensemble
    is refused by :func:`mean_drivers`, which needs one unit).
    """
    folds = tuple(folds)
    if not folds:
        raise InputError(f"patient {case_id}: no fold model scores this patient, so there is nothing to explain.")
    items = [explain_patient(models.folds[f], cohort, case_id, cal=maps.get(f), k=k, steps=steps) for f in folds]
    return items[0] if len(items) == 1 else mean_drivers(items)


def mean_drivers(items: list[Drivers]) -> Drivers:
    """The ensemble's drivers: the mean effect of each modality, group and gene over fold models (same units);
    patches are those of the first model (attention differs between models)."""
    if not items:
        raise InputError("no drivers to average.")
    if len({d.units for d in items}) != 1:
        raise InputError("drivers to average must be in the same units (pass each fold's calibration map).")
    n = len(items)

    def avg(values):
        v = [x for x in values if x is not None]
        return float(np.mean(v)) if v else None

    mods = tuple(replace(m, effect=avg([d.modalities[i].effect for d in items]),
                         risk_alone=avg([d.modalities[i].risk_alone for d in items]),
                         expert_weight=float(np.mean([d.modalities[i].expert_weight for d in items])))
                 for i, m in enumerate(items[0].modalities))
    genes: dict[str, list] = {}
    for d in items:
        for x in d.genes:
            genes.setdefault(x.gene, [0.0, x.inputs])[0] += x.effect / n
    groups: dict[str, dict] = {}
    for d in items:
        for g in d.groups:
            entry = groups.setdefault(g.group, {"effect": 0.0, "genes": {}})
            entry["effect"] += g.effect / n
            for x in g.genes:
                entry["genes"].setdefault(x.gene, [0.0, x.inputs])[0] += x.effect / n
    grp = tuple(sorted((GroupEffect(name, e["effect"], tuple(sorted((GeneEffect(k, v, c) for k, (v, c) in e["genes"].items()),
                                                                     key=lambda x: -abs(x.effect))))
                        for name, e in groups.items()), key=lambda x: -abs(x.effect)))
    return replace(items[0], risk=float(np.mean([d.risk for d in items])), modalities=mods, groups=grp,
                   genes=tuple(sorted((GeneEffect(k, v, c) for k, (v, c) in genes.items()), key=lambda x: -abs(x.effect))),
                   ig_delta=float(np.mean([d.ig_delta for d in items])))
