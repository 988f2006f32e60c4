"""User strings in figures: Plotly reads a subset of HTML in labels, so names from cohort files are escaped first."""

from __future__ import annotations

import html

__all__ = ["plain_label"]


def plain_label(text: object) -> str:
    """``text`` as a label Plotly shows literally (``<b>`` stays the four characters, not bold)."""
    return html.escape(str(text), quote=False)
