"""A structured empirical NTK for dense ReLU MLPs, from forward activations and backward
sensitivities (no Jacobian is formed).

For an MLP ``z_l = a_l h_{l-1} W_l + c_l b_l``, ``h_l = relu(z_l)``, ``f = z_L`` (``a_l``, ``c_l``
fixed scales: 1 and 1 for ``jax.example_libraries.stax``, ``W_std/sqrt(n_in)`` and ``b_std`` for
neural-tangents' NTK parameterization), the empirical NTK with respect to all ``(W_l, b_l)`` is

    Theta(x, x')_{ab} = sum_l (a_l^2 <h_{l-1}(x), h_{l-1}(x')> + c_l^2) <delta_l(x)_{:a}, delta_l(x')_{:b}>

with the sensitivities ``delta_L = I_K`` and ``delta_l = (a_{l+1} W_{l+1} delta_{l+1}) * relu'(z_l)``
(Jacot et al. 2018; the per-layer form of neural-tangents' structured derivatives). Cost per
layer: ``n1 n2 (n_in + width K^2)`` multiply-adds. ``tests/test_ntk.py`` checks it against
``nt.empirical_ntk_fn`` with every implementation.

``masked``: the kernel of the trainable (unpruned) weights only, ``J_m J_m^T``: for layer l the
weight term becomes ``sum_{uv} m_uv h_u(x) h_u(x') delta_v(x)_a delta_v(x')_b``.
"""
from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp

Layers = Sequence[tuple[jnp.ndarray, jnp.ndarray]]


def _forward(layers: Layers, scales: Sequence[tuple[float, float]], x: jnp.ndarray):
    hs, zs, h = [x], [], x
    for i, ((W, b), (a, c)) in enumerate(zip(layers, scales)):
        z = a * (h @ W) + c * b
        zs.append(z)
        if i < len(layers) - 1:
            h = jax.nn.relu(z)
            hs.append(h)
    return hs, zs


def _sensitivities(layers: Layers, scales: Sequence[tuple[float, float]], zs: list) -> list:
    K = layers[-1][0].shape[1]
    d = jnp.broadcast_to(jnp.eye(K, dtype=zs[-1].dtype), (zs[-1].shape[0], K, K))
    out = [d]
    for l in range(len(layers) - 2, -1, -1):
        W_next, a_next = layers[l + 1][0], scales[l + 1][0]
        d = a_next * jnp.einsum("uv,nvk->nuk", W_next, d) * (zs[l] > 0)[:, :, None].astype(d.dtype)
        out.append(d)
    return out[::-1]


def mlp_ntk(layers: Layers, x1: jnp.ndarray, x2: jnp.ndarray | None = None,
            scales: Sequence[tuple[float, float]] | None = None, trace: bool = False,
            masks: Sequence[jnp.ndarray] | None = None) -> jnp.ndarray:
    """The empirical NTK of a ReLU MLP given as ``[(W_1, b_1), ..., (W_L, b_L)]`` (``W`` of shape
    ``(n_in, n_out)``). Returns ``(n1, n2, K, K)``, or ``(n1, n2)`` with ``trace`` (the mean over
    the K logits, as neural-tangents' ``trace_axes=(-1,)``). ``masks``: one 0/1 array per ``W``;
    the weight term then counts only the kept weights (biases always count)."""
    x2 = x1 if x2 is None else x2
    scales = [(1.0, 1.0)] * len(layers) if scales is None else scales
    return ntk_from_activations(layers, scales, _forward(layers, scales, x1), _forward(layers, scales, x2),
                                trace=trace, masks=masks)


def forward(layers: Layers, x: jnp.ndarray, scales: Sequence[tuple[float, float]] | None = None):
    """The MLP's forward pass: (inputs of each layer ``[x, h_1, ..., h_{L-1}]``, pre-activations
    ``[z_1, ..., z_L]``); the outputs are ``z_L``. Feed two of these (row slices of one are fine) to
    :func:`ntk_from_activations` to get the NTK without a second forward pass."""
    return _forward(layers, [(1.0, 1.0)] * len(layers) if scales is None else scales, x)


def ntk_from_activations(layers: Layers, scales: Sequence[tuple[float, float]], act1: tuple, act2: tuple,
                         trace: bool = False, masks: Sequence[jnp.ndarray] | None = None) -> jnp.ndarray:
    """:func:`mlp_ntk` from the forward passes ``act1 = (hs1, zs1)`` and ``act2`` of the two input sets
    (:func:`forward`)."""
    (hs1, zs1), (hs2, zs2) = act1, act2
    d1, d2 = _sensitivities(layers, scales, zs1), _sensitivities(layers, scales, zs2)
    spec = "iua,jua->ij" if trace else "iua,jub->ijab"
    theta = 0.0
    for l, (a, c) in enumerate(scales):
        bias = jnp.einsum(spec, d1[l], d2[l])
        if masks is None:
            gram = a**2 * hs1[l] @ hs2[l].T
            theta = theta + (gram[:, :, None, None] if not trace else gram) * bias + c**2 * bias
        else:
            m = masks[l].astype(d1[l].dtype)
            # sum_{u,v} m_uv h_iu h_ju d_iva d_jvb, contracted over u first: (i, j, v)
            hh = jnp.einsum("iu,ju,uv->ijv", hs1[l], hs2[l], m)
            w = jnp.einsum("ijv,iva,jva->ij" if trace else "ijv,iva,jvb->ijab", hh, d1[l], d2[l])
            theta = theta + a**2 * w + c**2 * bias
    if trace:
        theta = theta / layers[-1][0].shape[1]
    return theta


def example_stax_layers(params: Any) -> list[tuple[jnp.ndarray, jnp.ndarray]]:
    """``jax.example_libraries.stax.serial(Dense, Relu, ..., Dense)`` params -> ``[(W, b), ...]``."""
    return [tuple(p) for p in params if len(p) == 2]


def nt_stax_layers(params: Any, W_std: float, b_std: float) -> tuple[list, list]:
    """neural-tangents ``stax.serial(Dense, Relu, ..., Dense)`` params (NTK parameterization) ->
    (layers, scales) with scales ``(W_std / sqrt(n_in), b_std)``."""
    layers = [tuple(p) for p in params if len(p) == 2]
    scales = [(W_std / jnp.sqrt(W.shape[0]), b_std) for W, _ in layers]
    return layers, scales


def nt_fcn_ntk(params: Any, x1: jnp.ndarray, x2: jnp.ndarray | None, W_std: float, b_std: float,
               trace: bool = True) -> jnp.ndarray:
    """:func:`mlp_ntk` of a neural-tangents ``stax`` FCN (:func:`ntkrepro.kernels.fcn`, NTK
    parameterization) at ``params``."""
    layers, scales = nt_stax_layers(params, W_std, b_std)
    return mlp_ntk(layers, x1, x2, scales, trace=trace)
