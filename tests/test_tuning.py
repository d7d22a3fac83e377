"""The batched tuner (one jitted, vmapped program over learning rates x seeds) equals the loop over the
same grid, and both follow the written-out GD update."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkrepro.tuning import tune, tune_loop

N, D = 20, 5
_rng = np.random.default_rng(0)
X = _rng.normal(size=(N, D))
Y = _rng.normal(size=(N, 1))


def init_linear(key):
    return {"w": jax.random.normal(key, (D, 1)), "b": jnp.zeros((1,))}


def loss_linear(params, data):
    x, y = data
    return 0.5 * jnp.mean((x @ params["w"] + params["b"] - y) ** 2)


def init_mlp(key):
    k1, k2 = jax.random.split(key)
    return [jax.random.normal(k1, (D, 16)) / D**0.5, jax.random.normal(k2, (16, 1)) / 4.0]


def loss_mlp(params, data):
    x, y = data
    return 0.5 * jnp.mean((jnp.tanh(x @ params[0]) @ params[1] - y) ** 2)


@pytest.mark.parametrize("init_fn, loss_fn", [(init_linear, loss_linear), (init_mlp, loss_mlp)])
def test_batched_equals_loop(init_fn, loss_fn):
    lrs, seeds, steps = [0.01, 0.1, 0.5], [0, 1, 7, 3], 25
    data = (jnp.asarray(X), jnp.asarray(Y))
    batched = tune(init_fn, loss_fn, data, lrs, seeds, steps)
    loop = tune_loop(init_fn, loss_fn, data, lrs, seeds, steps)
    assert batched.losses.shape == (3, 4, steps) and batched.final.shape == batched.stable.shape == (3, 4)
    assert batched.losses.dtype == jnp.float64
    np.testing.assert_allclose(batched.losses, loop.losses, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(batched.final, loop.final, rtol=1e-10, atol=1e-13)
    np.testing.assert_array_equal(batched.stable, loop.stable)


def test_follows_the_written_out_update():
    """theta_{t+1} = theta_t - lr * grad L(theta_t), L = 0.5 mean((X w + b - y)^2), by hand in numpy."""
    lr, seed, steps = 0.3, 5, 12
    res = tune(init_linear, loss_linear, (jnp.asarray(X), jnp.asarray(Y)), [lr], [seed], steps)
    p0 = init_linear(jax.random.PRNGKey(seed))
    w, b = np.asarray(p0["w"]), np.asarray(p0["b"])
    expected = []
    for _ in range(steps):
        r = X @ w + b - Y
        expected.append(0.5 * np.mean(r**2))
        w, b = w - lr * X.T @ r / N, b - lr * r.mean(axis=0)
    np.testing.assert_allclose(res.losses[0, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(res.final[0, 0], 0.5 * np.mean((X @ w + b - Y) ** 2), rtol=1e-12)


def test_a_diverging_rate_is_flagged_not_raised():
    res = tune(init_linear, loss_linear, (jnp.asarray(X), jnp.asarray(Y)), [0.05, 50.0], [0, 1], 200)
    assert res.stable[0].all() and not res.stable[1].any()
    assert float(res.best_lr()) == 0.05


def test_bad_grid_is_refused():
    with pytest.raises(ValueError, match="1-d lrs"):
        tune(init_linear, loss_linear, (X, Y), [[0.1]], [0], 3)
