"""Dtype-aware tolerances and small numerical helpers."""
from __future__ import annotations

import os

import numpy as np

# The environment every claim computes in: one XLA (Eigen) thread and one BLAS thread per process. XLA:CPU's
# multi-threaded reductions change summation order, and claim 3's digits runs amplify that past a check's gate
# (inconclusive -> fail between the record and a default-threaded run of the same commit); pinned, a run reproduces
# the record bit for bit whether it runs alone, beside another claim, or by hand in JupyterLab.
SINGLE_THREAD_ENV = {
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
}


def pin_threads() -> bool:
    """Give this process :data:`SINGLE_THREAD_ENV` (XLA's flags appended to any already set) if jax's
    backend has not started yet (XLA reads its flags when the first computation creates the backend, not
    at import); True when pinned, False when too late (a computation already ran: the notebook's first
    cells run none). Libraries loaded before the call keep their BLAS threads (numpy's BLAS splits rows and
    columns, not sums, so its results do not depend on it)."""
    import sys

    xb = sys.modules.get("jax._src.xla_bridge")
    if xb is not None and getattr(xb, "_backends", None):
        return os.environ.get("XLA_FLAGS", "").find(SINGLE_THREAD_ENV["XLA_FLAGS"]) >= 0
    flags = os.environ.get("XLA_FLAGS", "")
    for key, value in SINGLE_THREAD_ENV.items():
        if key == "XLA_FLAGS":
            os.environ[key] = value if not flags else (flags if value in flags else f"{flags} {value}")
        else:
            os.environ.setdefault(key, value)
    return True


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
