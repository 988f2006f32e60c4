"""Sizes of the demo cohort: ``full`` (the dashboard's default) and ``tiny`` (tests).

Both run the same code; only the numbers differ.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import InputError

__all__ = ["DemoProfile", "PROFILES", "get_profile", "CANCER_TYPES"]

CANCER_TYPES = ("BLCA", "LUAD")  # oncotree codes of the two cancer types (half the patients each)


@dataclass(frozen=True)
class DemoProfile:
    """One size of the demo cohort."""

    name: str
    n_patients: int                      # one slide each, half per cancer type
    width: tuple[int, int]               # level-0 width range (px, multiples of 256)
    height: tuple[int, int]              # level-0 height range (px, multiples of 256)
    tumour: tuple[float, float] = (0.06, 0.6)  # range of the target tumour fraction of tissue
    high_grade_share: float = 0.6        # fraction of patients whose tumour has a high-grade component
    high_grade: tuple[float, float] = (0.04, 0.25)  # range of its target fraction of tissue (within the tumour)
    genes_per_pathway: int = 24          # 10 pathways → 240 genes
    n_folds: int = 5
    seed: int = 7
    workers: int = 0                     # processes for the slides; 0 = one per CPU (at most 4)
    jpeg_quality: int = 80
    texture_size: int = 1024             # side of the periodic texture tiles (px)

    def to_dict(self) -> dict:
        return asdict(self)


PROFILES = {
    "full": DemoProfile(name="full", n_patients=104, width=(4096, 5376), height=(3072, 4096)),
    "tiny": DemoProfile(name="tiny", n_patients=12, width=(1792, 2304), height=(1536, 1792), n_folds=3,
                        workers=1, texture_size=512),
}


def get_profile(profile: str | DemoProfile) -> DemoProfile:
    """A profile by name (``"full"``, ``"tiny"``) or as given."""
    if isinstance(profile, DemoProfile):
        return profile
    if profile not in PROFILES:
        raise InputError(f"unknown demo profile '{profile}'; choose one of {', '.join(PROFILES)}.")
    return PROFILES[profile]
