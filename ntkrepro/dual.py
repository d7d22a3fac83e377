"""Dual activations (Gaussian-input kernels) of two-layer networks, in jnp with safe gradients.

``E_x[relu(u.x) relu(v.x)] = |u||v| kappa(rho)`` for ``x ~ N(0, I)`` (degree-1 arc-cosine kernel,
Cho & Saul 2009), with ``kappa(rho) = (sqrt(1-rho^2) + (pi - arccos rho) rho) / (2 pi)``.
Autodiff through ``arccos`` is NaN at rho = -1 (the M = 2 optimum), so ``kappa`` carries its
hand-written derivative ``kappa'(rho) = (pi - arccos rho) / (2 pi)``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

NORM_EPS = 1e-24  # keeps |v| differentiable at 0 without biasing the loss (float64)


@jax.custom_jvp
def kappa(rho: jnp.ndarray) -> jnp.ndarray:
    """Normalized degree-1 arc-cosine kernel; increasing and convex on [-1, 1]."""
    rho = jnp.clip(rho, -1.0, 1.0)
    return (jnp.sqrt(jnp.maximum(1.0 - rho**2, 0.0)) + (jnp.pi - jnp.arccos(rho)) * rho) / (2 * jnp.pi)


@kappa.defjvp
def _kappa_jvp(primals, tangents):
    (rho,), (drho,) = primals, tangents
    return kappa(rho), kappa_prime(rho) * drho


def kappa_prime(rho: jnp.ndarray) -> jnp.ndarray:
    """d kappa / d rho = (pi - arccos rho) / (2 pi), finite at rho = +-1."""
    return (jnp.pi - jnp.arccos(jnp.clip(rho, -1.0, 1.0))) / (2 * jnp.pi)


def kappa_np(rho: np.ndarray | float) -> np.ndarray:
    """:func:`kappa` in numpy float64 (for closed forms outside jax)."""
    rho = np.clip(rho, -1.0, 1.0)
    return (np.sqrt(1.0 - rho**2) + (np.pi - np.arccos(rho)) * rho) / (2 * np.pi)


def kappa_prime_np(rho: np.ndarray | float) -> np.ndarray:
    """:func:`kappa_prime` in numpy: E[relu'(u) relu'(v)] for unit Gaussians with correlation rho."""
    return (np.pi - np.arccos(np.clip(rho, -1.0, 1.0))) / (2 * np.pi)


def norms(U: jnp.ndarray) -> jnp.ndarray:
    return jnp.sqrt(jnp.sum(U**2, axis=-1) + NORM_EPS)


def cosines(U: jnp.ndarray, V: jnp.ndarray) -> jnp.ndarray:
    """Matrix of cosines between the rows of U and the rows of V."""
    return (U @ V.T) / (norms(U)[:, None] * norms(V)[None, :])


def relu_kernel(U: jnp.ndarray, V: jnp.ndarray) -> jnp.ndarray:
    """``K[j, i] = E_x[relu(u_j.x) relu(v_i.x)]``, x ~ N(0, I_d)."""
    return norms(U)[:, None] * norms(V)[None, :] * kappa(cosines(U, V))


def quadratic_kernel(U: jnp.ndarray, V: jnp.ndarray) -> jnp.ndarray:
    """``E_x[(u.x)^2 (v.x)^2] = |u|^2 |v|^2 + 2 <u,v>^2`` for x ~ N(0, I_d)."""
    return jnp.sum(U**2, 1)[:, None] * jnp.sum(V**2, 1)[None, :] + 2 * (U @ V.T) ** 2
