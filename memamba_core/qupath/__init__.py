"""QuPath exchange: model outputs as QuPath GeoJSON, a pathologist's annotations read back and held
against the model's attention. Coordinates are level-0 pixels, (x, y), as QuPath uses them."""

from .cohort import MANIFEST, QuPathExport, export_cohort_qupath
from .export import (
    ATTENTION_CLASS,
    TOP_CLASS,
    attention_features,
    group_features,
    slide_collection,
    topk_features,
    write_geojson,
)
from .reader import LIMITS, QuPathFile, QuPathObject, parse_qupath_bytes, parse_qupath_geojson, read_qupath_geojson
from .stats import STATS_COLUMNS, attention_by_annotation, auroc, inside_mask

__all__ = [
    "attention_features", "topk_features", "group_features", "slide_collection", "write_geojson",
    "TOP_CLASS", "ATTENTION_CLASS",
    "QuPathObject", "QuPathFile", "read_qupath_geojson", "parse_qupath_bytes", "parse_qupath_geojson", "LIMITS",
    "attention_by_annotation", "inside_mask", "auroc", "STATS_COLUMNS",
    "export_cohort_qupath", "QuPathExport", "MANIFEST",
]
