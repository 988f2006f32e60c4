"""Plotly figure builders (and a report builder) for the dashboard.

Every builder takes plain arrays / result objects and returns a
``plotly.graph_objects.Figure``; none computes statistics (those live in
:mod:`memamba_core.survival`) and none imports streamlit.
"""

from .bars import contributions_figure, expert_weights_figure
from .curves import step_points, survival_curve_figure, training_curves_figure
from .km import GROUP_COLOURS, format_p, km_figure, km_png
from .overlay import (
    COLORMAPS, heatmap_figure, overlay_image, overlay_rgba, scale_scores, selected_patch, slide_points_figure,
)
from .patches import read_patch, read_patches, thumbnail_scale, top_k
from .report import PatientReport, report_html, survival_png
from .transport import (
    group_legend_figure,
    GROUP_PALETTE,
    aggregate_plan,
    dominant_group,
    group_colours,
    mass_figure,
    mass_per_group,
    transport_matrix_figure,
)

__all__ = [
    "COLORMAPS",
    "GROUP_COLOURS",
    "GROUP_PALETTE",
    "PatientReport",
    "aggregate_plan",
    "contributions_figure",
    "dominant_group",
    "expert_weights_figure",
    "format_p",
    "group_colours",
    "heatmap_figure",
    "km_figure",
    "km_png",
    "mass_figure",
    "mass_per_group",
    "overlay_image",
    "overlay_rgba",
    "read_patch",
    "read_patches",
    "report_html",
    "scale_scores",
    "selected_patch",
    "slide_points_figure",
    "step_points",
    "survival_curve_figure",
    "survival_png",
    "thumbnail_scale",
    "top_k",
    "training_curves_figure",
    "transport_matrix_figure",
    "group_legend_figure",
]
