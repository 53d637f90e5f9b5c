"""Kernel estimation: named configurations (``registry``) of the estimators (``learned.LearnedPrior``,
``gan.KernelGAN``, one interface: ``base.Estimator``) behind one entry point (``api.estimate_kernel``)."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"EstimatorConfig": "config", "EstimateResult": "base", "estimate_kernel": "api"}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
