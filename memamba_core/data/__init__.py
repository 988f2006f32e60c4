"""Cohort data contract (DESIGN.md): the published layouts (SurvPath / PIBD, MCAT / MOTCat /
CMTA, one-cohort folders), endpoints, clinical tables, gene groups, CLAM / TRIDENT bags, splits.

``load_cohort(path, endpoint=...)`` turns a cohort folder (or a ``cohort.toml`` /
``.yaml``) into a :class:`Cohort`; see ``docs/data.md`` for the layouts.
"""

from .bags import Bag
from .cohort import Cohort
from .endpoints import ENDPOINTS, Endpoint
from .genomics import GenomicScaler
from .groups import GeneGroups, GroupsReport
from .labels import Patient
from .loader import load_cohort
from .splits import Split
from .summary import CohortSummary

__all__ = [
    "Bag",
    "Cohort",
    "CohortSummary",
    "ENDPOINTS",
    "Endpoint",
    "GeneGroups",
    "GroupsReport",
    "GenomicScaler",
    "Patient",
    "Split",
    "load_cohort",
]
