"""Survival endpoints: which label columns hold overall, disease-specific and progression-free survival.

The one table of endpoint names and their columns (the SurvPath / PIBD
metadata convention; the MCAT layout has overall survival only):

======== =============================== ======================= ==================
endpoint meaning                          time column             censorship column
======== =============================== ======================= ==================
``os``   overall survival                 ``survival_months``     ``censorship``
``dss``  disease-specific survival        ``survival_months_dss`` ``censorship_dss``
``pfi``  progression-free interval        ``survival_months_pfi`` ``censorship_pfi``
======== =============================== ======================= ==================

A cohort *has* an endpoint when its label table has both of its columns.
Choose one with ``endpoint = "dss"`` in the cohort file or
``load_cohort(path, endpoint="dss")``; the default is ``os``. The loaded
patients' ``survival_months`` / ``censorship`` are then the chosen endpoint's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from .tables import short

__all__ = ["Endpoint", "ENDPOINTS", "DEFAULT_ENDPOINT", "available_endpoints", "get_endpoint", "lacking_endpoint_error"]


@dataclass(frozen=True)
class Endpoint:
    """One survival endpoint: its short ``name``, a ``title`` for display and its two label columns."""

    name: str
    title: str
    time_column: str
    censorship_column: str


ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint("os", "overall survival", "survival_months", "censorship"),
        Endpoint("dss", "disease-specific survival", "survival_months_dss", "censorship_dss"),
        Endpoint("pfi", "progression-free interval", "survival_months_pfi", "censorship_pfi"),
    )
}
DEFAULT_ENDPOINT = "os"


def available_endpoints(columns) -> tuple[str, ...]:
    """Names of the endpoints whose two columns are among ``columns``, in table order (os, dss, pfi)."""
    cols = set(map(str, columns))
    return tuple(n for n, e in ENDPOINTS.items() if {e.time_column, e.censorship_column} <= cols)


def get_endpoint(name: object, *, where: str = "endpoint") -> Endpoint:
    """The :class:`Endpoint` called ``name`` (case-insensitive); InputError naming the choices otherwise."""
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in ENDPOINTS:
        choices = ", ".join(f'"{n}" ({e.title})' for n, e in ENDPOINTS.items())
        raise InputError(f"{where}: unknown survival endpoint {short(repr(name))}; choose one of {choices}.")
    return ENDPOINTS[key]


def lacking_endpoint_error(endpoint: Endpoint, columns, path) -> InputError | None:
    """The error for a label table at ``path`` that lacks ``endpoint`` but has others (None otherwise).

    A table with no endpoint at all is reported by the label reader as missing columns.
    """
    have = available_endpoints(columns)
    if endpoint.name in have or not have:
        return None
    listed = ", ".join(f'"{n}" ({ENDPOINTS[n].title})' for n in have)
    return InputError(
        f"{path}: this cohort has no '{endpoint.name}' endpoint ({endpoint.title} needs columns "
        f"{endpoint.time_column} and {endpoint.censorship_column}); it has {listed}. "
        f"Choose one of those (endpoint = \"{have[0]}\" in the cohort file)."
    )
