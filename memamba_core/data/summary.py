"""The cohort summary the CLI and the dashboard both show."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

__all__ = ["CohortSummary"]


@dataclass(frozen=True)
class CohortSummary:
    """Counts describing a loaded cohort (patient level unless named otherwise).

    ``censored_fraction`` is the share of patients with ``censorship == 1``.
    ``modalities`` counts patients with ``pathology``, ``genomics``, ``both``
    and ``neither``. ``token_sizes`` are the G genomic group sizes (empty
    without genomics); ``feature_dim`` is D_in (None without pathology).
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

    def to_dict(self) -> dict:
        """JSON-safe dict."""
        d = asdict(self)
        d["group_names"] = list(self.group_names)
        d["token_sizes"] = list(self.token_sizes)
        d["issues"] = list(self.issues)
        return d

    def to_frame(self) -> pd.DataFrame:
        """Two columns, ``item`` and ``value`` (strings), one row per figure — for display."""
        m = self.modalities
        rows = [
            ("cohort", self.name),
            ("folder", self.root),
            ("patients", f"{self.n_patients}"),
            ("slides", f"{self.n_slides}"),
            ("events", f"{self.n_events}"),
            ("censored", f"{100 * self.censored_fraction:.1f} %"),
            ("median follow-up", f"{self.median_follow_up_months:.1f} months"),
            ("with pathology", f"{m.get('pathology', 0)}"),
            ("with genomics", f"{m.get('genomics', 0)}"),
            ("with both", f"{m.get('both', 0)}"),
            ("genomic tokens (G)", f"{len(self.token_sizes)}"),
            ("token sizes", ", ".join(str(s) for s in self.token_sizes) or "—"),
            ("feature width (D_in)", "—" if self.feature_dim is None else str(self.feature_dim)),
            ("split files", f"{self.n_splits}"),
            ("issues", f"{len(self.issues)}"),
        ]
        return pd.DataFrame(rows, columns=["item", "value"])

    def __str__(self) -> str:
        lines = [f"{r.item:>22}: {r.value}" for r in self.to_frame().itertuples()]
        lines += [f"  - {i}" for i in self.issues]
        return "\n".join(lines)
