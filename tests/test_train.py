"""Training loops: lax.scan GD equals a Python loop; centring; weight decay."""
import jax
import jax.numpy as jnp
import numpy as np

from ntkrepro.kernels import fcn
from ntkrepro.numerics import tolerance
from ntkrepro.train import gd_mse, gd_mse_seeds, gd_mse_seeds_stepped, init_seeds, mse, sq_norm


def _setup(dtype=jnp.float64):
    init, apply, _ = fcn(16, 1, 1.4, 0.1, out_dim=2)
    x = jax.random.normal(jax.random.PRNGKey(0), (8, 3), dtype)
    y = jax.random.normal(jax.random.PRNGKey(1), (8, 2), dtype)
    params = init_seeds(init, jax.random.PRNGKey(2), 3, x.shape, dtype)
    return apply, x, y, params


def test_scan_equals_python_loop():
    apply, x, y, params = _setup()
    p0 = jax.tree_util.tree_map(lambda a: a[0], params)
    p_scan, losses, _ = gd_mse(apply, p0, x, y, x, 0.3, 5, 1e-3)
    p = p0
    obj = lambda q: mse(apply(q, x), y) + 0.5 * 1e-3 * sq_norm(q)  # noqa: E731
    for _ in range(5):
        p = jax.tree_util.tree_map(lambda a, g: a - 0.3 * g, p, jax.grad(obj)(p))
    for a, b in zip(jax.tree_util.tree_leaves(p_scan), jax.tree_util.tree_leaves(p)):
        np.testing.assert_allclose(a, b, atol=tolerance(np.float64))
    assert losses.shape == (6,) and losses[-1] < losses[0]


def test_centered_model_starts_at_zero_and_seeds_differ():
    apply, x, y, params = _setup()
    _, losses, out = gd_mse_seeds(apply, params, x, y, x, 0.0, 1, center=True)
    np.testing.assert_allclose(out, 0.0, atol=tolerance(np.float64))
    np.testing.assert_allclose(losses[:, 0], float(mse(jnp.zeros_like(y), y)), rtol=tolerance(np.float64))
    _, _, raw = gd_mse_seeds(apply, params, x, y, x, 0.0, 1)
    assert not np.allclose(raw[0], raw[1])


def test_float32_params_stay_float32():
    apply, x, y, params = _setup(jnp.float32)
    p, losses, out = gd_mse_seeds(apply, params, x, y, x, 0.1, 3)
    assert all(a.dtype == jnp.float32 for a in jax.tree_util.tree_leaves(p))
    assert out.dtype == jnp.float32


def test_stepped_loop_equals_the_vmapped_scan():
    """The Python-stepped loop (for convolutions on CPU) does the same arithmetic as the vmapped scan:
    plain, centred with weight decay, and with L2 toward the initial weights."""
    apply, x, y, params = _setup()
    for kw in ({}, {"center": True, "weight_decay": 1e-2}, {"weight_decay": 1e-2, "decay_to_init": True}):
        a = gd_mse_seeds(apply, params, x, y, x[:5], 0.2, 7, **kw)
        b = gd_mse_seeds_stepped(apply, params, x, y, x[:5], 0.2, 7, **kw)
        for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
            assert u.shape == v.shape
            np.testing.assert_allclose(u, v, atol=1e3 * tolerance(np.float64))


def test_centred_scan_equals_a_plain_python_loop_on_the_centred_model():
    """Independent of the shared step code: GD written out on f(x; theta) - f(x; theta_0), with L2 toward
    theta_0 (the hoisted f(x; theta_0) must not change the arithmetic)."""
    apply, x, y, params = _setup()
    p0 = jax.tree_util.tree_map(lambda a: a[0], params)
    wd = 1e-2
    p_scan, losses, out = gd_mse(apply, p0, x, y, x[:3], 0.2, 6, wd, center=True, decay_to_init=True)
    obj = lambda q: (mse(apply(q, x) - apply(p0, x), y)  # noqa: E731
                     + 0.5 * wd * sq_norm(jax.tree_util.tree_map(jnp.subtract, q, p0)))
    p = p0
    for _ in range(6):
        p = jax.tree_util.tree_map(lambda a, g: a - 0.2 * g, p, jax.grad(obj)(p))
    for a, b in zip(jax.tree_util.tree_leaves(p_scan), jax.tree_util.tree_leaves(p)):
        np.testing.assert_allclose(a, b, atol=tolerance(np.float64))
    np.testing.assert_allclose(out, apply(p, x[:3]) - apply(p0, x[:3]), atol=tolerance(np.float64))
