"""Lazy re-exports: importing the model path does not load scikit-survival or lifelines."""

import subprocess
import sys

import pytest

import memamba_core.survival as survival


def test_heavy_libraries_load_only_when_a_lazy_name_is_used():
    code = (
        "import sys, memamba_core.models, memamba_core.train;"
        "assert 'sksurv' not in sys.modules and 'lifelines' not in sys.modules, 'loaded eagerly';"
        "from memamba_core.survival import concordance, km_groups; from memamba_core.train import train_cv;"
        "assert 'sksurv' in sys.modules and 'lifelines' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lazy_name_is_the_submodule_object_and_unknown_names_fail():
    from memamba_core.survival.metrics import concordance

    assert survival.concordance is concordance
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        survival.nope
