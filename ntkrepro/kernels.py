"""Infinite-width kernels: neural-tangents' stax networks plus closed forms used as
independent cross-checks, and kernel-regression / gradient-flow predictors.

Conventions (neural-tangents 0.6.5): NTK parameterization ``z = W_std/sqrt(n_in) W x + b_std b``;
the MSE loss is ``0.5 * mean((f - y)^2)`` over all n*k outputs, so gradient descent at rate
``lr`` on the linearized model contracts by ``exp(-lr * t * Theta / (n k))``.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np


def fcn(width: int, depth: int, W_std: float, b_std: float, out_dim: int = 10,
        parameterization: str = "ntk") -> tuple[Callable, Callable, Callable]:
    """``[Dense(width), Relu] * depth + Dense(out_dim)`` as stax ``(init_fn, apply_fn, kernel_fn)``."""
    from neural_tangents import stax

    layers = []
    for _ in range(depth):
        layers += [stax.Dense(width, W_std=W_std, b_std=b_std, parameterization=parameterization),
                   stax.Relu()]
    layers.append(stax.Dense(out_dim, W_std=W_std, b_std=b_std, parameterization=parameterization))
    return stax.serial(*layers)


@lru_cache(maxsize=64)  # bounded: one jitted kernel_fn per architecture in use
def fcn_kernel_fn(depth: int, W_std: float, b_std: float, out_dim: int = 10) -> Callable:
    """The jitted infinite-width ``kernel_fn`` of :func:`fcn` (``get`` static), cached per architecture."""
    import jax

    return jax.jit(fcn(1, depth, W_std, b_std, out_dim)[2], static_argnames="get")


@lru_cache(maxsize=64)  # bounded, as above
def conv_vec_kernel_fn(shape: tuple[int, ...], depth: int, W_std: float, b_std: float, filter_size: int = 3,
                       out_dim: int = 10) -> Callable:
    """The jitted infinite-width ``kernel_fn`` of a CNN-VEC on flattened inputs of spatial ``shape``
    ((H, W, C) or (L, C)): ``[Conv(filter_size, SAME), Relu] * depth``, Flatten, Dense(out_dim), NTK
    parameterization. With a Flatten readout only the spatial diagonal of the covariance is needed,
    so it costs O(n^2 H W) per layer (a CNN-GAP kernel costs O(n^2 (H W)^2))."""
    import jax
    from neural_tangents import stax

    spec = ("NHWC", "HWIO", "NHWC") if len(shape) == 3 else ("NWC", "WIO", "NWC")
    layers = []
    for _ in range(depth):
        layers += [stax.Conv(1, (filter_size,) * (len(shape) - 1), padding="SAME", W_std=W_std, b_std=b_std,
                             dimension_numbers=spec), stax.Relu()]
    layers += [stax.Flatten(), stax.Dense(out_dim, W_std=W_std, b_std=b_std)]
    kfn = stax.serial(*layers)[2]
    reshape = lambda x: None if x is None else x.reshape((x.shape[0], *shape))  # noqa: E731
    return jax.jit(lambda x1, x2, get: kfn(reshape(x1), reshape(x2), get), static_argnames="get")


def _arccos1(q1: np.ndarray, q2: np.ndarray, q12: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E[relu(u) relu(v)] and E[relu'(u) relu'(v)] for centred Gaussians with
    variances q1, q2 and covariance q12 (Cho & Saul 2009, degree-1 and degree-0 arc-cosine)."""
    from ntkrepro.dual import kappa_np, kappa_prime_np

    norm = np.sqrt(np.outer(q1, q2))
    rho = q12 / norm
    return norm * kappa_np(rho), kappa_prime_np(rho)


def relu_fcn_kernels(x1: np.ndarray, x2: np.ndarray, depth: int, W_std: float,
                     b_std: float) -> tuple[np.ndarray, np.ndarray]:
    """(NNGP, NTK) of :func:`fcn` by the closed-form arc-cosine recursion, in numpy float64.

    Jacot et al. 2018, eq. for Theta^{(l+1)} = Theta^{(l)} Sigma_dot^{(l+1)} + Sigma^{(l+1)};
    an implementation independent of neural-tangents for cross-checks.
    """
    x1, x2 = np.asarray(x1, np.float64), np.asarray(x2, np.float64)
    d = x1.shape[1]
    w2, b2 = W_std**2, b_std**2
    s12 = w2 * x1 @ x2.T / d + b2
    s1 = w2 * np.sum(x1**2, 1) / d + b2
    s2 = w2 * np.sum(x2**2, 1) / d + b2
    ntk = s12.copy()
    for _ in range(depth):
        k1, k0 = _arccos1(s1, s2, s12)
        new12 = w2 * k1 + b2
        ntk = new12 + w2 * k0 * ntk
        s12 = new12
        s1, s2 = w2 * s1 / 2 + b2, w2 * s2 / 2 + b2  # E[relu(u)^2] = q/2
    return s12, ntk


def max_learning_rate(ntk_train_train: np.ndarray, n_outputs: int) -> float:
    """Largest stable full-batch GD rate for the MSE loss 0.5*mean((f-y)^2): 2 n k / lambda_max.

    Computed directly (``nt.predict.max_learning_rate`` breaks with scipy >= 1.14)."""
    lam_max = float(np.linalg.eigvalsh(np.asarray(ntk_train_train, np.float64))[-1])
    return 2.0 * ntk_train_train.shape[0] * n_outputs / lam_max


def gd_mean_prediction(k_train: np.ndarray, k_test_train: np.ndarray, y_train: np.ndarray,
                       t: float | None, learning_rate: float = 1.0) -> np.ndarray:
    """Mean prediction of gradient descent on the linearized model from a zero function, by
    eigendecomposition: ``K_*x K^{-1} (I - exp(-lr t K/(n k))) y`` (Lee et al. 2019, eq. 9);
    ``t=None`` is the infinite-time kernel-regression limit ``K_*x K^{-1} y``."""
    k_train = np.asarray(k_train, np.float64)
    n, k = y_train.shape
    if t is None:
        return np.asarray(k_test_train, np.float64) @ np.linalg.solve(k_train, y_train)
    lam, v = np.linalg.eigh(k_train)
    filt = -np.expm1(-learning_rate * t * lam / (n * k)) / lam
    return np.asarray(k_test_train, np.float64) @ (v @ (filt[:, None] * (v.T @ y_train)))


def kernel_regression(k_train: np.ndarray, k_test_train: np.ndarray, y_train: np.ndarray,
                      diag_reg: float = 0.0, dtype: type = np.float64) -> np.ndarray:
    """``K_*x (K + diag_reg * tr(K)/n I)^{-1} y`` solved in ``dtype`` by Cholesky (LU fallback).

    The relative ``diag_reg`` is neural-tangents' ``diag_reg_absolute_scale=False`` convention."""
    import scipy.linalg as sla

    k = np.asarray(k_train, dtype)
    n = k.shape[0]
    k = k + dtype(diag_reg * np.trace(k_train) / n) * np.eye(n, dtype=dtype)
    y = np.asarray(y_train, dtype)
    try:
        alpha = sla.cho_solve(sla.cho_factor(k, lower=True, check_finite=True), y)
    except np.linalg.LinAlgError:
        alpha = sla.solve(k, y)
    return np.asarray(k_test_train, dtype) @ alpha


def condition_ratio(k: np.ndarray) -> float:
    """lambda_min / lambda_max of a symmetric PSD matrix (float64 eigenvalues)."""
    lam = np.linalg.eigvalsh(np.asarray(k, np.float64))
    return float(lam[0] / lam[-1])
