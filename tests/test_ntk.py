"""Our structured MLP NTK (ntkrepro.ntk) against every neural-tangents implementation, to dtype
tolerance: jax.example_libraries MLPs (the NTT network, full K x K and traced, dense and
masked Jacobian) and neural-tangents FCNs (NTK parameterization)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkrepro.kernels import fcn
from ntkrepro.ntk import example_stax_layers, mlp_ntk, nt_stax_layers
from ntkrepro.numerics import tolerance


def _nt(apply, x1, x2, params, trace_axes, impl):
    import neural_tangents as nt

    return np.asarray(nt.empirical_ntk_fn(apply, trace_axes=trace_axes, vmap_axes=0, implementation=impl)(
        x1, x2, params))


def _impls():
    import neural_tangents as nt

    return [i for i in nt.NtkImplementation if i.name != "AUTO"]  # AUTO only picks one of the three


@pytest.fixture(scope="module")
def mlp():
    from jax.example_libraries import stax

    init, apply = stax.serial(stax.Dense(30), stax.Relu, stax.Dense(20), stax.Relu, stax.Dense(4))
    params = init(jax.random.PRNGKey(0), (-1, 7))[1]
    x = jax.random.normal(jax.random.PRNGKey(1), (10, 7))
    return apply, params, x[:6], x[6:]


@pytest.mark.parametrize("trace", [False, True])
def test_example_stax_mlp_matches_every_implementation(mlp, trace):
    apply, params, x1, x2 = mlp
    ours = np.asarray(mlp_ntk(example_stax_layers(params), x1, x2, trace=trace))
    for impl in _impls():
        ref = _nt(apply, x1, x2, params, (-1,) if trace else (), impl)
        np.testing.assert_allclose(ours, ref, atol=tolerance(np.float64, np.abs(ref).max()), err_msg=impl.name)


def test_masked_kernel_equals_the_kernel_of_the_kept_weights(mlp):
    """J_m J_m^T: the NTK of f(theta_kept) with the pruned weights frozen at zero."""
    apply, params, x1, x2 = mlp
    layers = example_stax_layers(params)
    masks = [(jax.random.uniform(jax.random.PRNGKey(i), W.shape) < 0.3).astype(W.dtype)
             for i, (W, _) in enumerate(layers)]
    sp = [(W * m, b) for (W, b), m in zip(layers, masks)]
    ours = np.asarray(mlp_ntk(sp, x1, x2, masks=masks))
    # reference: Jacobian of the outputs with respect to the kept weights and all biases
    def f(flat):
        out, i, k = [], 0, 0
        for (W, b), m in zip(layers, masks):
            n = int(m.sum())
            Wk = jnp.zeros(W.size).at[jnp.nonzero(m.ravel(), size=n)[0]].set(flat[i:i + n]).reshape(W.shape)
            i += n
            out.append((Wk, flat[i:i + b.size].reshape(b.shape)))
            i += b.size
        return out

    flat0 = jnp.concatenate([jnp.concatenate([(W * m).ravel()[m.ravel() > 0], b.ravel()])
                             for (W, b), m in zip(layers, masks)])
    def g(flat, x):
        p = f(flat)
        h = x
        for j, (W, b) in enumerate(p):
            h = h @ W + b
            h = jax.nn.relu(h) if j < len(p) - 1 else h
        return h
    J1 = jax.jacobian(g)(flat0, x1)
    J2 = jax.jacobian(g)(flat0, x2)
    ref = np.asarray(jnp.einsum("iap,jbp->ijab", J1, J2))
    np.testing.assert_allclose(ours, ref, atol=tolerance(np.float64, np.abs(ref).max()))
    dense = np.asarray(mlp_ntk(sp, x1, x2))
    assert np.abs(dense - ours).max() > 1e-3  # the two kernels differ: the test can tell them apart


def test_nt_stax_fcn_matches_every_implementation():
    init, apply, _ = fcn(16, 2, 1.5, 0.2, out_dim=3)
    x = jax.random.normal(jax.random.PRNGKey(2), (8, 5))
    params = init(jax.random.PRNGKey(3), x.shape)[1]
    layers, scales = nt_stax_layers(params, 1.5, 0.2)
    ours = np.asarray(mlp_ntk(layers, x, None, scales, trace=True))
    for impl in _impls():
        ref = _nt(apply, x, None, params, (-1,), impl)
        np.testing.assert_allclose(ours, ref, atol=tolerance(np.float64, np.abs(ref).max()), err_msg=impl.name)


def test_float32_agrees_to_float32_tolerance(mlp):
    apply, params, x1, x2 = mlp
    p32 = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), params)
    ours = np.asarray(mlp_ntk(example_stax_layers(p32), x1.astype(jnp.float32), x2.astype(jnp.float32)))
    ref = np.asarray(mlp_ntk(example_stax_layers(params), x1, x2))
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, atol=tolerance(np.float32, np.abs(ref).max(), 1e2))
