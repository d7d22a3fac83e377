"""Dtype-aware tolerances and small numerical helpers."""
from __future__ import annotations

import numpy as np


def eps(dtype: np.dtype | type = np.float64) -> float:
    return float(np.finfo(dtype).eps)


def tolerance(dtype: np.dtype | type = np.float64, scale: float = 1.0, safety: float = 1e3) -> float:
    """Absolute tolerance for comparing two computations of a quantity of size ``scale``:
    ``safety * eps(dtype) * scale``. ``safety`` absorbs the growth of rounding error through
    the few hundred operations of a kernel recursion or solve."""
    return safety * eps(dtype) * scale


def loglog_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of log(y) against log(x)."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def loglog_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line log(y) = intercept + slope * log(x)."""
    slope, intercept = np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)
    return float(slope), float(intercept)


def tolerance_sqrt(dtype: np.dtype | type = np.float64, scale: float = 1.0, safety: float = 10.0) -> float:
    """Tolerance for quantities computed through ``arccos`` or ``sqrt(1 - rho^2)`` near rho = 1:
    a rounding error eps in rho moves the angle by sqrt(2 eps), so agreement is only
    ``safety * sqrt(eps(dtype)) * scale`` there (e.g. the diagonal of an arc-cosine kernel)."""
    return safety * np.sqrt(eps(dtype)) * scale
