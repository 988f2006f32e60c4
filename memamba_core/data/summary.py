"""The cohort summary the CLI and the dashboard both show."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

__all__ = ["CohortSummary"]


@dataclass(frozen=True)
class CohortSummary:
    """Counts describing a loaded cohort (patient level unless named otherwise).

    Survival figures are the chosen ``endpoint``'s (``endpoints``: those the
    cohort has). ``censored_fraction`` is the share of patients with
    ``censorship == 1``. ``modalities`` counts patients with ``pathology``,
    ``genomics``, ``both`` and ``neither``. ``token_sizes`` are the G genomic
    group sizes (empty without genomics); ``gene_overlap`` says how the groups
    file's genes matched the data; ``feature_dim`` is D_in (None without
    pathology); ``clinical_columns`` the clinical variables; ``layout`` the
    folder layout recognised (``survpath``, ``mcat``, ``folder``).
    """

    name: str
    root: str
    n_patients: int
    n_slides: int
    n_events: int
    censored_fraction: float
    median_follow_up_months: float
    modalities: dict[str, int]
    group_names: tuple[str, ...]
    token_sizes: tuple[int, ...]
    feature_dim: int | None
    n_splits: int
    issues: tuple[str, ...] = field(default_factory=tuple)
    endpoint: str = "os"
    endpoints: tuple[str, ...] = ("os",)
    layout: str = "folder"
    clinical_columns: tuple[str, ...] = ()
    gene_overlap: str = ""

    def to_dict(self) -> dict:
        """JSON-safe dict."""
        d = asdict(self)
        for k in ("group_names", "token_sizes", "issues", "endpoints", "clinical_columns"):
            d[k] = list(getattr(self, k))
        return d

    def to_frame(self) -> pd.DataFrame:
        """Two columns, ``item`` and ``value`` (strings), one row per figure — for display."""
        from .endpoints import ENDPOINTS

        m = self.modalities
        title = ENDPOINTS[self.endpoint].title if self.endpoint in ENDPOINTS else self.endpoint
        rows = [
            ("cohort", self.name),
            ("folder", self.root),
            ("layout", self.layout),
            ("endpoint", f"{self.endpoint} ({title})"),
            ("endpoints available", ", ".join(self.endpoints) or "—"),
            ("patients", f"{self.n_patients}"),
            ("slides", f"{self.n_slides}"),
            ("events", f"{self.n_events}"),
            ("censored", f"{100 * self.censored_fraction:.1f} %"),
            ("median follow-up", f"{self.median_follow_up_months:.1f} months"),
            ("with pathology", f"{m.get('pathology', 0)}"),
            ("with genomics", f"{m.get('genomics', 0)}"),
            ("with both", f"{m.get('both', 0)}"),
            ("genomic tokens (G)", f"{len(self.token_sizes)}"),
            ("token sizes", _sizes(self.token_sizes)),
            ("gene overlap", self.gene_overlap or "—"),
            ("clinical variables", ", ".join(self.clinical_columns) or "—"),
            ("feature width (D_in)", "—" if self.feature_dim is None else str(self.feature_dim)),
            ("split files", f"{self.n_splits}"),
            ("issues", f"{len(self.issues)}"),
        ]
        return pd.DataFrame(rows, columns=["item", "value"])

    def __str__(self) -> str:
        lines = [f"{r.item:>22}: {r.value}" for r in self.to_frame().itertuples()]
        lines += [f"  - {i}" for i in self.issues]
        return "\n".join(lines)


def _sizes(sizes: tuple[int, ...], limit: int = 12) -> str:
    """``"94, 334, …"``: at most ``limit`` sizes, then min–max of all (G may be in the hundreds)."""
    if not sizes:
        return "—"
    text = ", ".join(str(s) for s in sizes[:limit])
    return text if len(sizes) <= limit else f"{text}, … ({len(sizes)} groups, {min(sizes)}–{max(sizes)} each)"
