"""Cohort data contract (DESIGN.md): MCAT label CSV, gene groups, CLAM bags, splits.

``load_cohort(path)`` turns a cohort folder (or a ``cohort.toml`` / ``.yaml``)
into a :class:`Cohort`; see ``docs/data.md`` for the layout.
"""

from .bags import Bag
from .cohort import Cohort
from .genomics import GenomicScaler
from .groups import GeneGroups
from .labels import Patient
from .loader import load_cohort
from .splits import Split
from .summary import CohortSummary

__all__ = [
    "Bag",
    "Cohort",
    "CohortSummary",
    "GeneGroups",
    "GenomicScaler",
    "Patient",
    "Split",
    "load_cohort",
]
