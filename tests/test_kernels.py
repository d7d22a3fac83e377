"""Kernels and kernel predictors against independent computations."""
import jax
import numpy as np
import pytest

from ntkrepro.kernels import (fcn, gd_mean_prediction, kernel_regression, max_learning_rate,
                              relu_fcn_kernels)
from ntkrepro.numerics import tolerance


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x, xt = rng.normal(size=(40, 7)), rng.normal(size=(15, 7))
    y = rng.normal(size=(40, 3))
    return x, xt, y


@pytest.mark.parametrize("depth", [1, 3])
def test_closed_form_matches_stax(data, depth):
    x, xt, _ = data
    kfn = fcn(1, depth, 1.3, 0.2)[2]
    k = kfn(xt, x, ("nngp", "ntk"))
    nngp, ntk = relu_fcn_kernels(xt, x, depth, 1.3, 0.2)
    scale = np.abs(ntk).max()
    np.testing.assert_allclose(nngp, np.asarray(k.nngp), atol=tolerance(np.float64, scale))
    np.testing.assert_allclose(ntk, np.asarray(k.ntk), atol=tolerance(np.float64, scale))


def test_closed_form_nngp_matches_monte_carlo(data):
    """NNGP = covariance of a wide random network's outputs (Monte Carlo over 400 draws)."""
    x, _, _ = data
    init, apply, _ = fcn(2048, 1, 2**0.5, 0.1, out_dim=1)
    keys = jax.random.split(jax.random.PRNGKey(0), 400)
    outs = np.stack([np.asarray(apply(init(k, x[:5].shape)[1], x[:5]))[:, 0] for k in keys])
    mc = outs.T @ outs / len(outs)
    nngp, _ = relu_fcn_kernels(x[:5], x[:5], 1, 2**0.5, 0.1)
    se = np.sqrt((np.diag(nngp)[:, None] * np.diag(nngp)[None] + nngp**2) / len(outs))
    assert np.all(np.abs(mc - nngp) < 5 * se)


def test_infinite_time_prediction_is_direct_solve(data):
    import neural_tangents as nt

    x, xt, y = data
    kfn = fcn(1, 2, 1.4, 0.1)[2]
    ktr, kte = np.asarray(kfn(x, None, "ntk")), np.asarray(kfn(xt, x, "ntk"))
    direct = kte @ np.linalg.solve(ktr, y)
    ours = gd_mean_prediction(ktr, kte, y, None)
    theirs = np.asarray(nt.predict.gradient_descent_mse_ensemble(kfn, x, y)(None, xt, "ntk"))
    tol = tolerance(np.float64, np.abs(direct).max() * np.linalg.cond(ktr))
    np.testing.assert_allclose(ours, direct, atol=tol)
    np.testing.assert_allclose(theirs, direct, atol=tol)
    np.testing.assert_allclose(kernel_regression(ktr, kte, y), direct, atol=tol)


def test_finite_time_prediction_matches_neural_tangents_and_discrete_gd(data):
    """Eigendecomposition formula = nt.predict at time t = discrete GD on the linear model
    f = K alpha (small learning rate, many steps) up to O(lr) discretization error."""
    import neural_tangents as nt

    x, xt, y = data
    kfn = fcn(1, 1, 1.4, 0.1)[2]
    ktr, kte = np.asarray(kfn(x, None, "ntk")), np.asarray(kfn(xt, x, "ntk"))
    lr = 0.05 * max_learning_rate(ktr, 3)
    ours = gd_mean_prediction(ktr, kte, y, 200, lr)
    theirs = np.asarray(nt.predict.gradient_descent_mse_ensemble(kfn, x, y, learning_rate=lr)(200, xt, "ntk"))
    np.testing.assert_allclose(ours, theirs, atol=tolerance(np.float64, np.abs(ours).max(), 1e6))
    # function-space gradient descent on the training outputs from zero, extended to test points
    n, k = y.shape
    f_tr, f_te = np.zeros_like(y), np.zeros((len(xt), k))
    for _ in range(200):
        r = f_tr - y
        f_tr, f_te = f_tr - lr / (n * k) * ktr @ r, f_te - lr / (n * k) * kte @ r
    assert np.abs(f_te - ours).max() < 0.05 * np.abs(ours).max()


def test_max_learning_rate_is_the_stability_edge(data):
    x, _, y = data
    ktr = relu_fcn_kernels(x, x, 1, 1.4, 0.1)[1]
    n, k = y.shape
    lr_max = max_learning_rate(ktr, k)
    for factor, stable in ((0.95, True), (1.05, False)):
        f = np.zeros_like(y)
        for _ in range(2000):
            f = f - factor * lr_max / (n * k) * ktr @ (f - y)
        assert np.isfinite(f).all() and (np.abs(f - y).max() < 1) == stable


def test_float32_solve_matches_float64_when_well_conditioned(data):
    x, xt, y = data
    ktr, kte = (relu_fcn_kernels(a, x, 1, 1.4, 0.1)[0] for a in (x, xt))
    p64 = kernel_regression(ktr, kte, y, 1e-2, np.float64)
    p32 = kernel_regression(ktr, kte, y, 1e-2, np.float32)
    assert p32.dtype == np.float32
    np.testing.assert_allclose(p32, p64, atol=tolerance(np.float32, np.abs(p64).max() * 1e2))
