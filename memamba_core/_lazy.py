"""Lazy re-exports for package ``__init__`` modules (PEP 562).

A package re-exports names from sub-modules that pull in heavy libraries
(scikit-survival, lifelines) without importing them until a name is first used::

    __getattr__ = lazy_getattr(__name__, {"train_cv": "cv", "evaluate_run": "evaluate"})
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving ``name`` from ``package.<where[name]>`` on first use, then caching it."""

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
