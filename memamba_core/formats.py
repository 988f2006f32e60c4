"""File-name conventions shared by the data contract and the slide readers (no heavy imports)."""

__all__ = ["SLIDE_EXTENSIONS"]

# Whole-slide image extensions recognised in a cohort's slides folder and stripped from slide ids.
SLIDE_EXTENSIONS = (
    ".svs", ".tif", ".tiff", ".ndpi", ".mrxs", ".scn", ".vms", ".vmu", ".bif", ".svslide", ".czi", ".isyntax", ".dcm",
)
