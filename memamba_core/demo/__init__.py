"""The deterministic demo cohort: synthetic pyramidal slides, genomics and survival with known truth."""

from .build import DEMO_VERSION, build_demo, demo_dir, demo_spec, ensure_demo, is_complete
from .profiles import CANCER_TYPES, PROFILES, DemoProfile, get_profile
from .textures import CLASSES, HIGH_GRADE, TUMOUR

__all__ = [
    "ensure_demo", "build_demo", "demo_dir", "demo_spec", "is_complete", "DEMO_VERSION",
    "DemoProfile", "PROFILES", "get_profile", "CANCER_TYPES", "CLASSES", "TUMOUR", "HIGH_GRADE",
]
