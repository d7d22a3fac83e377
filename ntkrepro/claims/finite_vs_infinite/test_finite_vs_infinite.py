"""Finite versus infinite: the pure pieces added for issue 15, against independent computations."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkrepro.claims.finite_vs_infinite import science as E
from ntkrepro.params import Params


def test_lowp_solve_matches_numpy_in_float64_and_breaks_in_float16_when_ill_conditioned():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(30, 30))
    K = A @ A.T / 30 + np.eye(30)
    y = rng.normal(size=(30, 3))
    a, col = E.cholesky_solve_lowp(K, y, np.float64)
    assert col is None and np.allclose(a, np.linalg.solve(K, y), atol=1e-10)
    U = rng.normal(size=(60, 3))
    K_bad = U @ U.T + 1e-6 * np.eye(60)  # rank 3 + tiny ridge: far below float16's epsilon
    a16, col16 = E.cholesky_solve_lowp(K_bad, rng.normal(size=(60, 2)), np.float16)
    assert a16 is None and col16 is not None and col16 >= 3


def test_l2_shrinkage_prediction_formula():
    P = Params(lr_factor=0.5, weight_decays=[1e-4], break_steps=100)
    got = E.l2_shrinkage_prediction(2.0, P)["l2=0.0001"]
    s = (1 - 1.0 * 1e-4) ** 100
    assert got == pytest.approx(1 - s**2, rel=1e-12)


def test_decay_to_init_shrinks_nothing_while_plain_l2_shrinks_everything():
    from ntkrepro.train import gd_mse

    apply = lambda p, x: x @ p["w"]  # noqa: E731
    p0 = {"w": jnp.ones((3, 1))}
    x = jnp.zeros((4, 3))  # zero data gradient: only the regularizer acts
    y = jnp.zeros((4, 1))
    p_plain, _, _ = gd_mse(apply, p0, x, y, x, 0.1, 10, 0.5)
    p_init, _, _ = gd_mse(apply, p0, x, y, x, 0.1, 10, 0.5, decay_to_init=True)
    assert np.allclose(p_plain["w"], (1 - 0.1 * 0.5) ** 10)
    assert np.allclose(p_init["w"], 1.0)


def test_cnn_layers_kernel_is_positive_definite_and_the_net_runs_in_float64():
    from ntkrepro.registry import resolve_params
    from ntkrepro.train import init_seeds

    P = resolve_params("finite_vs_infinite", {"profile": "smoke"})
    init, apply, kfn = E.cnn_layers(8, P)
    x = np.random.default_rng(1).normal(size=(6, 40, 1))
    assert np.all(np.linalg.eigvalsh(np.asarray(kfn(x, None, "nngp"))) > 0)
    p0 = init_seeds(init, jax.random.PRNGKey(0), 2, x.shape, dtype=jnp.float64)
    out = apply(jax.tree_util.tree_map(lambda a: a[0], p0), jnp.asarray(x))  # two convolutions in a row
    assert out.shape == (6, 10) and out.dtype == jnp.float64


def test_conv_vec_kernel_with_1x1_filters_is_the_pixelwise_arccos_kernel():
    """A 1x1 CNN-VEC on one channel is an FCN applied to every pixel alone, read out through Flatten: its
    NNGP is b^2 + mean over pixels of (the 1-input FCN's NNGP - b^2), from the independent arc-cosine
    recursion."""
    from ntkrepro.kernels import conv_vec_kernel_fn, relu_fcn_kernels

    rng = np.random.default_rng(1)
    x1, x2 = rng.normal(size=(5, 12)), rng.normal(size=(4, 12))
    W, b = 1.3, 0.2
    got = np.asarray(conv_vec_kernel_fn((3, 4, 1), 1, W, b, filter_size=1)(x1, x2, "nngp"))
    per_pixel = [relu_fcn_kernels(x1[:, [p]], x2[:, [p]], 1, W, b)[0] - b**2 for p in range(12)]
    np.testing.assert_allclose(got, b**2 + np.mean(per_pixel, axis=0), rtol=1e-10)
    # and a 3x3 filter is a different kernel (the check above can fail)
    other = np.asarray(conv_vec_kernel_fn((3, 4, 1), 1, W, b, filter_size=3)(x1, x2, "nngp"))
    assert not np.allclose(other, got, rtol=1e-3)


def test_cnn_traces_in_float32_inside_float32_scope():
    from ntkrepro.compat import float32_scope
    from ntkrepro.train import init_seeds

    init, apply, _ = E.cnn_layers(4, Params(W_std=1.4, b_std=0.1))
    x64 = np.random.default_rng(0).normal(size=(3, 40, 1))
    p64 = init_seeds(init, jax.random.PRNGKey(0), 1, x64.shape, dtype=jnp.float64)
    ref = jax.vmap(lambda p: apply(p, jnp.asarray(x64)))(p64)
    with float32_scope():
        p32 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), p64)
        out = jax.vmap(lambda p: apply(p, jnp.asarray(x64, jnp.float32)))(p32)
        assert out.dtype == jnp.float32
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


def test_interval_rows_are_the_gated_intervals():
    """The intervals figure draws what the checks gate (the CNN rows come from the same helper)."""
    from ntkrepro.claims.finite_vs_infinite import claim as C

    m = {"cnn": {"cnn_kernel_t_accuracy": 0.6, "cnn_net_accuracy_per_seed": [0.5, 0.52, 0.48],
                 "fcn_kernel_t_accuracy": 0.3, "fcn_net_accuracy_per_seed": [0.2, 0.22, 0.18]},
         "nngp_vs_ntk": {"dataset": "digits", "mean_diff": 0.0, "ci_low": -0.01, "ci_high": 0.01}}
    rows = {label: iv for _, label, iv in C.interval_rows(m)}
    assert rows["CNN net − CNN-GAP kernel(t), MNIST-1D"]["ci_high"] < 0
    assert rows["FCN kernel(t) − FCN net, MNIST-1D"]["ci_low"] > 0
    assert rows["ZCA − plain, CNN-VEC kernel"] is None
