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
    got = E.l2_shrinkage_prediction(0.5 * 2.0, [1e-4], 100)["l2=0.0001"]
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
    init, apply, kfn = E.cnn_layers(8, P.W_std, P.b_std)
    x = np.random.default_rng(1).normal(size=(6, 40, 1))
    assert np.all(np.linalg.eigvalsh(np.asarray(kfn(x, None, "nngp"))) > 0)
    p0 = init_seeds(init, jax.random.PRNGKey(0), 2, x.shape, dtype=jnp.float64)
    out = apply(jax.tree_util.tree_map(lambda a: a[0], p0), jnp.asarray(x))  # two convolutions in a row
    assert out.shape == (6, 10) and out.dtype == jnp.float64


def _window_mean(a: np.ndarray, k: int, nsp: int) -> np.ndarray:
    """Mean over the k^nsp window around each of the last nsp axes, zero padded (SAME), in numpy."""
    r = k // 2
    pad = np.pad(a, [(0, 0)] * (a.ndim - nsp) + [(r, r)] * nsp)
    out = np.zeros_like(a)
    for off in np.ndindex(*(k,) * nsp):
        idx = tuple(slice(None) for _ in range(a.ndim - nsp)) + tuple(
            slice(o, o + n) for o, n in zip(off, a.shape[a.ndim - nsp:]))
        out += pad[idx]
    return out / k**nsp


def _cnn_vec_nngp_numpy(x1, x2, shape, depth, W, b, k=3):
    """An independent CNN-VEC NNGP: per position, the SAME-padded window mean of the input (or post-ReLU)
    covariance, the ReLU arc-cosine map, and the Flatten readout as the mean over positions."""
    def relu(s12, s1, s2):
        c = np.clip(s12 / np.sqrt(s1 * s2), -1, 1)
        th = np.arccos(c)
        return np.sqrt(s1 * s2) * (np.sin(th) + (np.pi - th) * c) / (2 * np.pi)

    X1, X2 = x1.reshape((len(x1), *shape)), x2.reshape((len(x2), *shape))
    nsp, C = len(shape) - 1, shape[-1]
    q12 = np.einsum("a...c,b...c->ab...", X1, X2) / C
    q1, q2 = np.einsum("a...c,a...c->a...", X1, X1) / C, np.einsum("a...c,a...c->a...", X2, X2) / C
    for _ in range(depth):
        s12 = W**2 * _window_mean(q12, k, nsp) + b**2
        s1 = W**2 * _window_mean(q1, k, nsp) + b**2
        s2 = W**2 * _window_mean(q2, k, nsp) + b**2
        q12, q1, q2 = relu(s12, s1[:, None], s2[None]), s1 / 2, s2 / 2
    return W**2 * q12.reshape(len(x1), len(x2), -1).mean(-1) + b**2


@pytest.mark.parametrize("shape,depth", [((3, 5, 1), 1), ((3, 5, 2), 2), ((7, 2), 2)])
def test_conv_vec_kernel_matches_an_independent_numpy_recursion(shape, depth):
    """3x3 (or 3) filters on non-square layouts, one and two channels, depth 1 and 2: a wrong reshape (H and W
    swapped, channels first) or a wrong neighbourhood would change the kernel."""
    from ntkrepro.kernels import conv_vec_kernel_fn

    rng = np.random.default_rng(1)
    d = int(np.prod(shape))
    x1, x2 = rng.normal(size=(5, d)), rng.normal(size=(4, d))
    got = np.asarray(conv_vec_kernel_fn(shape, depth, 1.3, 0.2)(x1, x2, "nngp"))
    np.testing.assert_allclose(got, _cnn_vec_nngp_numpy(x1, x2, shape, depth, 1.3, 0.2), rtol=1e-10)
    if len(shape) == 3:  # the same numbers read with H and W swapped are a different kernel (the check can fail)
        swapped = _cnn_vec_nngp_numpy(x1, x2, (shape[1], shape[0], shape[2]), depth, 1.3, 0.2)
        assert not np.allclose(got, swapped, rtol=1e-3)


def test_conv_vec_kernel_with_1x1_filters_is_the_pixelwise_arccos_kernel():
    """A 1x1 CNN-VEC on one channel is an FCN applied to every pixel alone, read out through Flatten: its
    NNGP is b^2 + mean over pixels of (the 1-input FCN's NNGP - b^2), from the project's arc-cosine
    recursion."""
    from ntkrepro.kernels import conv_vec_kernel_fn, relu_fcn_kernels

    rng = np.random.default_rng(1)
    x1, x2 = rng.normal(size=(5, 12)), rng.normal(size=(4, 12))
    W, b = 1.3, 0.2
    got = np.asarray(conv_vec_kernel_fn((3, 4, 1), 1, W, b, filter_size=1)(x1, x2, "nngp"))
    per_pixel = [relu_fcn_kernels(x1[:, [p]], x2[:, [p]], 1, W, b)[0] - b**2 for p in range(12)]
    np.testing.assert_allclose(got, b**2 + np.mean(per_pixel, axis=0), rtol=1e-10)


def test_cnn_traces_in_float32_inside_float32_scope():
    from ntkrepro.compat import float32_scope
    from ntkrepro.train import init_seeds

    init, apply, _ = E.cnn_layers(4, 1.4, 0.1)
    x64 = np.random.default_rng(0).normal(size=(3, 40, 1))
    p64 = init_seeds(init, jax.random.PRNGKey(0), 1, x64.shape, dtype=jnp.float64)
    ref = jax.vmap(lambda p: apply(p, jnp.asarray(x64)))(p64)
    with float32_scope():
        p32 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), p64)
        out = jax.vmap(lambda p: apply(p, jnp.asarray(x64, jnp.float32)))(p32)
        assert out.dtype == jnp.float32
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


def _smoke_record_with_cnn(cnn_values):
    """The committed smoke record's metrics with a ``cnn`` part (the smoke profile does not run it): the
    full record's, with ``cnn_values`` set."""
    from pathlib import Path

    from ntkrepro.io import read_json

    root = Path(__file__).resolve().parents[3] / "figures" / "finite_vs_infinite"
    if not (root / "results.json").exists() or not (root / "smoke" / "results.json").exists():
        pytest.skip("needs the committed full and smoke records of finite_vs_infinite")
    m = read_json(root / "smoke" / "results.json")["metrics"]
    m["cnn"] = {**read_json(root / "results.json")["metrics"]["cnn"], **cnn_values}
    return m


def test_interval_rows_are_the_gated_intervals():
    """The intervals figure draws what the checks gate (the CNN rows come from the same helper)."""
    from ntkrepro.claims.finite_vs_infinite import claim as C
    from ntkrepro.claims.finite_vs_infinite.metrics import FiniteVsInfiniteMetrics

    raw = _smoke_record_with_cnn({"cnn_kernel_t_accuracy": 0.6, "cnn_net_accuracy_per_seed": [0.5, 0.52, 0.48],
                                  "fcn_kernel_t_accuracy": 0.3, "fcn_net_accuracy_per_seed": [0.2, 0.22, 0.18]})
    raw["cnn"]["tuned_gap"] = {**raw["cnn"]["tuned_gap"], "mean_diff": 0.01, "ci_low": -0.01, "ci_high": 0.03, "n": 5}
    m = FiniteVsInfiniteMetrics.from_json(raw)
    rows = {label: iv for _, label, iv in C.interval_rows(m)}
    assert rows["reference (not gated): lazy NTK-param. CNN − kernel(t)"]["ci_high"] < 0
    assert rows["FCN kernel(t) − FCN net, MNIST-1D"]["ci_low"] > 0
    assert rows["ZCA − plain, CNN-VEC kernel"] is None  # the smoke profile runs no ZCA comparison
    assert rows[f"NNGP − NTK, {raw['nngp_vs_ntk']['dataset']} resplits"] == raw["nngp_vs_ntk"]
    gated = next(s for s in C.CHECKS if s.name == "tuned_cnn_beats_tuned_kernel")
    assert C.interval_rows(m)[1][2] == gated.value(m, {}) == raw["cnn"]["tuned_gap"]
    no_cnn = FiniteVsInfiniteMetrics.from_json({k: v for k, v in raw.items() if k != "cnn"})
    assert all(iv is None for f, _, iv in C.interval_rows(no_cnn) if f == "F1-CNN")
    with pytest.raises(KeyError, match="cnn"):  # the ledger reports such a check as not run
        gated.value(no_cnn, {})


# ----------------------------------------------------------------------------- issue 29: tuned F1-CNN
@pytest.mark.parametrize("strides", [(2, 1), (1, 1)])
def test_cnn_gap_kernels_equal_stax_in_float64_and_float32(strides):
    from ntkrepro.claims.finite_vs_infinite import cnn as K

    rng = np.random.default_rng(3)
    x1, x2 = rng.normal(size=(5, 40)), rng.normal(size=(4, 40))
    kfn = K.cnn_stax(8, strides, 2 ** 0.5, 0.1)[2]
    ref = kfn(x1[:, :, None], x2[:, :, None], ("nngp", "ntk"))
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 2e-5)):
        g, t = K.cnn_gap_kernels(x1, x2, strides, 2 ** 0.5, 0.1, block=2, dtype=dtype)
        assert np.abs(g - np.asarray(ref.nngp)).max() <= tol * np.abs(g).max()
        assert np.abs(t - np.asarray(ref.ntk)).max() <= tol * np.abs(t).max()
    gs, ts = K.cnn_gap_kernels(x1, None, strides, 2 ** 0.5, 0.1, block=2)  # the mirrored symmetric path
    ref_s = kfn(x1[:, :, None], None, ("nngp", "ntk"))
    assert np.allclose(gs, np.asarray(ref_s.nngp), rtol=1e-12) and np.allclose(ts, np.asarray(ref_s.ntk), rtol=1e-12)


@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
def test_cnn_apply_equals_stax_apply(parameterization):
    from ntkrepro.claims.finite_vs_infinite import cnn as K

    init, apply, _ = K.cnn_stax(6, (2, 1), 1.3, 0.2, parameterization=parameterization)
    params = init(jax.random.PRNGKey(1), (3, 40, 1))[1]
    mine = [p for p in params if p != ()]
    x = np.random.default_rng(0).normal(size=(3, 40))
    a = np.asarray(apply(params, jnp.asarray(x[:, :, None])))
    b = np.asarray(K.cnn_apply(mine, jnp.asarray(x), 1.3, 0.2, parameterization, strides=(2, 1)))
    assert np.allclose(a, b, atol=1e-12)


def test_lazy_cnn_reference_forward_equals_stax_cnn_layers():
    """The lazy F1-CNN reference trains stax's initial parameters through the shifted-matmul forward pass."""
    init, apply, _ = E.cnn_layers(6, 1.3, 0.2)
    params = init(jax.random.PRNGKey(2), (3, 40, 1))[1]
    x = jnp.asarray(np.random.default_rng(1).normal(size=(3, 40, 1)))
    mine = E._cnn_ntk_apply(1.3, 0.2)([p for p in params if p != ()], x)
    assert np.allclose(np.asarray(apply(params, x)), np.asarray(mine), atol=1e-12)
    assert E._cnn_ntk_apply(1.3, 0.2) is E._cnn_ntk_apply(1.3, 0.2)  # one function: the scan compiles once


def test_train_grid_cell_equals_an_optax_adam_loop_with_l2():
    import optax

    from ntkrepro.claims.finite_vs_infinite import cnn as K
    from ntkrepro.compat import float32_scope

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 40)), rng.normal(size=(8, 10))
    # full batch (batch = n): the minibatch order only permutes the rows, so the gradient is the full one
    out, kept = K.train_grid(x, y, x, [1e-2, 3e-3], [0.0, 1e-2], 2, 4, (2, 1), 2 ** 0.5, 0.1, steps=4, batch=8,
                             eval_every=2, seed=5)
    assert out.shape == (2, 2, 2, 2, 8, 10)
    with float32_scope():
        p = K.cnn_init(jax.random.split(jax.random.PRNGKey(5), 2)[1], 4, 2, 2 ** 0.5, 0.1)
        p = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), p)
        xj, yj = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
        loss = lambda q: 0.5 * jnp.mean((K.cnn_apply(q, xj) - yj) ** 2) + 0.5 * 1e-2 * sum(  # noqa: E731
            jnp.sum(a ** 2) for a in jax.tree_util.tree_leaves(q))
        opt = optax.adam(3e-3)
        st = opt.init(p)
        for _ in range(4):
            upd, st = opt.update(jax.grad(loss)(p), st)
            p = optax.apply_updates(p, upd)
        ref = np.asarray(K.cnn_apply(p, xj))
    assert np.allclose(out[1, 1, 1, -1], ref, atol=2e-5)  # lr 3e-3, L2 1e-2, seed 1, after 4 steps
    # the kept params reproduce every read's outputs, and apply_at reads them where each seed stopped
    at = K.apply_at(kept, (1, 1), [0, 1], x[:5], (2, 1))
    assert at.shape == (2, 5, 10)
    assert np.allclose(at[0], out[1, 1, 0, 0, :5], atol=1e-6) and np.allclose(at[1], ref[:5], atol=2e-5)


def test_cnn_tuned_runs_on_a_tiny_grid_and_records_its_choices():
    from ntkrepro.registry import resolve_params

    P = resolve_params("finite_vs_infinite", {"profile": "smoke", "cnn_tuned_n_train": 40, "cnn_tuned_n_val": 20,
                                              "cnn_tuned_n_test": 30, "cnn_tuned_steps": 4,
                                              "cnn_tuned_eval_every": 2, "cnn_tuned_batch": 20})
    r = E.cnn_tuned(P.W_std, P.b_std, P.cnn_tuned_n_train, P.cnn_tuned_n_val, P.cnn_tuned_n_test, P.cnn_tuned_width,
                    P.cnn_tuned_seeds, P.cnn_tuned_steps, P.cnn_tuned_batch, P.cnn_tuned_eval_every, P.cnn_lrs,
                    P.cnn_l2s, P.cnn_diag_regs, P.seed)
    assert r["tuned_net"]["chosen"]["lr"] in P.cnn_lrs and r["tuned_net"]["chosen"]["l2"] in P.cnn_l2s
    assert r["tuned_kernel"]["chosen"]["diag_reg"] in P.cnn_diag_regs
    assert r["gap"]["ci_low"] <= r["gap"]["mean_diff"] <= r["gap"]["ci_high"] and r["gap"]["n"] == P.cnn_tuned_seeds
    assert set(r["tuned_net"]) >= {"grid", "chosen", "n_seeds", "accuracy_mean", "ci_low", "ci_high"}
    assert r["interval_method"].startswith("paired bootstrap")


def test_ntk_shape_change_ignores_a_rescale_and_sees_a_change_of_shape():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(20, 20))
    K = A @ A.T
    assert E.ntk_shape_change(K, 0.3 * K) == pytest.approx(0.0, abs=1e-7)  # raw distance would be 0.7
    B = rng.normal(size=(20, 20))
    K2 = K + 0.5 * np.linalg.norm(K) / np.linalg.norm(B @ B.T) * (B @ B.T)
    cos = np.sum(K * K2) / np.linalg.norm(K) / np.linalg.norm(K2)
    assert E.ntk_shape_change(K, K2) == pytest.approx(np.sqrt(1 - cos**2), rel=1e-12) and E.ntk_shape_change(K, K2) > 0.05
    c = np.sum(K * K2) / np.sum(K2 * K2)  # the best rescale, by least squares
    assert E.ntk_shape_change(K, K2) == pytest.approx(np.linalg.norm(c * K2 - K) / np.linalg.norm(K), rel=1e-9)


@pytest.mark.parametrize("record", ["smoke", "full"])
def test_collect_rebuilds_a_committed_record(record):
    """collect assembles the whole metrics record from the sections' results (no glue left in the notebook):
    fed the parts of a committed record, it returns that record, typed."""
    from pathlib import Path

    from ntkrepro.claims.finite_vs_infinite.metrics import FiniteVsInfiniteMetrics
    from ntkrepro.io import read_json

    path = Path(__file__).resolve().parents[3] / "figures" / "finite_vs_infinite" / (
        "smoke/results.json" if record == "smoke" else "results.json")
    if not path.exists():
        pytest.skip(f"needs the committed {record} record of finite_vs_infinite")
    res = read_json(path)
    m, P = res["metrics"], Params(**res["parameters"])
    cnn = m.get("cnn")
    tuned_keys = ("tuned_net", "tuned_kernel", "interval_method", "tuned_gap", "tuned_split")
    tuned = None if cnn is None else {"tuned_net": cnn["tuned_net"], "tuned_kernel": cnn["tuned_kernel"],
                                      "interval_method": cnn["interval_method"], "gap": cnn["tuned_gap"],
                                      **cnn["tuned_split"]}
    shrink = E.l2_shrinkage_prediction(m["kernel"]["lr"], P.weight_decays, P.break_steps)
    assert shrink == m["l2_shrinkage_prediction"]
    got = E.collect(
        {**m["kernel"], "_ntk_t_mean": np.zeros(3)}, m["finite"], P.widths,
        {k: {**v, "_loss_curve": np.zeros(3)} for k, v in m["breaking"].items()}, shrink, m["diag_reg_vs_time"],
        m["precision"], m["nngp_vs_ntk"], m.get("nngp_vs_ntk_mnist1d"),
        {"slope": m["empirical_ntk_slope"], "relative_error": m["empirical_ntk_relative_error"]},
        {"table": m["delta_ntk_vs_width"], "slope": m["delta_ntk_width_slope"], "l2_to_init": m["l2_to_init"]},
        m["parameterization"], zca_acc=m.get("zca"),
        cnn=None if cnn is None else {k: v for k, v in cnn.items() if k not in tuned_keys}, tuned=tuned,
        zre=m.get("zca_reposed"), zre_conv=m.get("zca_reposed_conv"), equivariance=m.get("equivariance"),
        augmentation=m.get("augmentation"), x1=m.get("layerwise_l2"))
    assert isinstance(got, FiniteVsInfiniteMetrics)
    # the same names, order and values (to 1e-12: collect re-fits a few slopes, whose last bits differ between
    # numpy 1.26 and 2), leaf by leaf as record.compare walks them
    import math

    from ntkrepro.record import _leaves

    got_leaves, want_leaves = list(_leaves(got.to_json())), list(_leaves(m))
    assert [p for p, _ in got_leaves] == [p for p, _ in want_leaves]
    for (path, a), (_, b) in zip(got_leaves, want_leaves):
        if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
            assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15), f"{path}: {a} != {b}"
        else:
            assert a == b, f"{path}: {a!r} != {b!r}"
