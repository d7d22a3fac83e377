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
