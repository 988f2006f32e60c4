"""Synthetic genomics of the demo cohort: genes, pathways, gene families, expression.

Genes are named ``<PREFIX><nn>`` after their main pathway (clearly synthetic,
e.g. ``HYP07``). Each gene belongs to its main pathway and, with a small
probability, to a second one (the 0/1 composition matrix ``pathways.csv``,
genes as rows). Each patient has a latent activity ``a_p ~ N(μ_type,p, 1)``
per pathway; a gene's ``_rnaseq`` value is ``Σ_p M[g, p] · w_g · a_p / √n_g``
plus noise; a subset of genes also has a ``_cnv`` value in {-2, …, 2}
correlated with its main pathway. The truth is ``a`` (patients × pathways).
Families (``signatures.csv``, MCAT's six) are a random partition of the genes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["PATHWAYS", "FAMILIES", "RISK_COEFS", "GenomicsTruth", "make_genomics"]

PATHWAYS = (  # (name, gene prefix)
    ("HYPOXIA", "HYP"), ("E2F_TARGETS", "E2F"), ("EPITHELIAL_MESENCHYMAL_TRANSITION", "EMT"),
    ("INFLAMMATORY_RESPONSE", "INF"), ("P53_PATHWAY", "P53"), ("KRAS_SIGNALING", "KRS"),
    ("MTORC1_SIGNALING", "MTR"), ("DNA_REPAIR", "DNR"), ("ANGIOGENESIS", "ANG"),
    ("OXIDATIVE_PHOSPHORYLATION", "OXP"),
)
FAMILIES = (
    "Tumor Suppressor Genes", "Oncogenes", "Protein Kinases", "Cell Differentiation Markers",
    "Transcription Factors", "Cytokines and Growth Factors",
)
RISK_COEFS = {"HYPOXIA": 0.8, "E2F_TARGETS": 0.7, "INFLAMMATORY_RESPONSE": -0.7}  # log-hazard per SD of activity (v4: about as strong as the high-grade part)
_TYPE_SHIFT = {"KRAS_SIGNALING": 0.8, "OXIDATIVE_PHOSPHORYLATION": -0.6}  # activity shift of the second cancer type


@dataclass
class GenomicsTruth:
    """``values``: patients × genomic columns (``<GENE>_rnaseq`` / ``_cnv``); ``activity``: patients × pathways;
    ``composition``: genes × pathways 0/1 (first column ``gene``); ``families``: ragged family columns."""

    values: pd.DataFrame
    activity: pd.DataFrame
    composition: pd.DataFrame
    families: pd.DataFrame


def make_genomics(seed: int, types: np.ndarray, genes_per_pathway: int = 24, cnv_fraction: float = 0.2) -> GenomicsTruth:
    """Genomics of len(``types``) patients; ``types`` (P,) int 0/1 is each patient's cancer type."""
    rng = np.random.default_rng([seed, 10])
    P, Q = len(types), len(PATHWAYS)
    genes, main = [], []
    for q, (_, prefix) in enumerate(PATHWAYS):
        for i in range(genes_per_pathway):
            genes.append(f"{prefix}{i + 1:02d}")
            main.append(q)
    Gn = len(genes)
    M = np.zeros((Gn, Q), np.int8)
    M[np.arange(Gn), main] = 1
    extra = rng.random(Gn) < 0.15
    M[np.flatnonzero(extra), (np.array(main)[extra] + rng.integers(1, Q, extra.sum())) % Q] = 1
    mu = np.zeros((2, Q))
    for name, shift in _TYPE_SHIFT.items():
        mu[1, [p for p, _ in PATHWAYS].index(name)] = shift
    act = rng.standard_normal((P, Q)) + mu[types]
    w = rng.uniform(0.6, 1.2, Gn) * rng.choice([-1.0, 1.0], Gn, p=[0.2, 0.8])
    signal = (act @ M.T.astype(float)) / np.sqrt(M.sum(1))
    rna = signal * w + 0.75 * rng.standard_normal((P, Gn))
    cols = {f"{g}_rnaseq": np.round(rna[:, j], 4) for j, g in enumerate(genes)}
    cnv_genes = np.sort(rng.choice(Gn, int(round(cnv_fraction * Gn)), replace=False))
    for j in cnv_genes:
        cols[f"{genes[j]}_cnv"] = np.clip(np.round(0.7 * act[:, main[j]] + 0.7 * rng.standard_normal(P)), -2, 2).astype(int)
    values = pd.DataFrame(cols)
    activity = pd.DataFrame(act, columns=[p for p, _ in PATHWAYS])
    composition = pd.DataFrame(M, columns=[p for p, _ in PATHWAYS])
    composition.insert(0, "gene", genes)
    fam = rng.integers(0, len(FAMILIES), Gn)
    members = [[g for g, f in zip(genes, fam) if f == k] for k in range(len(FAMILIES))]
    L = max(len(m) for m in members)
    families = pd.DataFrame({name: m + [""] * (L - len(m)) for name, m in zip(FAMILIES, members)})
    return GenomicsTruth(values=values, activity=activity, composition=composition, families=families)
