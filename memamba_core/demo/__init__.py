"""The deterministic demo cohort: synthetic pyramidal slides, genomics and survival with known truth.

Importing this package is light: the builders (numpy, pandas, and torch for the
feature extraction) load on first use of one of their names.
"""

from .._lazy import lazy_getattr
from .profiles import CANCER_TYPES, PROFILES, DemoProfile, get_profile

_LAZY = {
    "build": ("build_demo", "ensure_demo"),
    "folder": ("DEMO_VERSION", "demo_dir", "demo_spec", "is_complete", "prepare_demo"),
    "background": ("BuildStatus", "build_status", "start_build"),
    "textures": ("CLASSES", "HIGH_GRADE", "TUMOUR"),
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}

__all__ = ["CANCER_TYPES", "PROFILES", "DemoProfile", "get_profile", *_WHERE]

__getattr__ = lazy_getattr(__name__, _WHERE)


def __dir__():
    return sorted(__all__)
