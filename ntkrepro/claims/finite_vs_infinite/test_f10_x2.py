"""F10 (CNN against a locally connected network) and X2 (kernel ensembling over shifts), issue 29: the science
at small sizes, and each new check able to pass and to fail."""
import jax
import numpy as np
import pytest

from ntkrepro.claims.finite_vs_infinite import augment as A, equivariance as Q

W_STD, B_STD = 2 ** 0.5, 0.1


def _signals(n, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 40))


@pytest.mark.parametrize("depth", [1, 2])
def test_lcn_kernel_equals_cnn_kernel_with_flatten(depth):
    """Flatten readout: the infinite-width CNN and LCN kernels coincide (NNGP and NTK), train and cross blocks."""
    x, z = _signals(6), _signals(4, 1)
    for a, b in ((x, None), (z, x)):
        g_c, t_c = Q.kernels("cnn", a, b, depth, W_STD, B_STD)
        g_l, t_l = Q.kernels("lcn", a, b, depth, W_STD, B_STD)
        np.testing.assert_allclose(g_l, g_c, rtol=1e-12, atol=1e-12 * np.abs(g_c).max())
        np.testing.assert_allclose(t_l, t_c, rtol=1e-12, atol=1e-12 * np.abs(t_c).max())


def test_gap_readout_would_separate_them():
    """The control on the readout choice: with global average pooling the two kernels differ (CNN-GAP keeps the
    cross-position covariances), so a Flatten readout is what makes the kernel limits equal."""
    from neural_tangents import stax

    x = _signals(5)[..., None]
    ks = []
    for layer in (stax.Conv, stax.ConvLocal):
        kfn = stax.serial(layer(1, (5,), padding="SAME", W_std=W_STD, b_std=B_STD,
                                dimension_numbers=("NWC", "WIO", "NWC")), stax.Relu(), stax.GlobalAvgPool(),
                          stax.Dense(10, W_std=W_STD, b_std=B_STD))[2]
        ks.append(np.asarray(kfn(x, None, "ntk")))
    assert np.abs(ks[0] - ks[1]).max() > 1e-3 * np.abs(ks[0]).max()


@pytest.mark.parametrize("arch", ["cnn", "lcn"])
def test_finite_network_ntk_approaches_the_kernel(arch):
    """The written-out finite network (NTK parameterization) has the stax kernel as its infinite-width NTK: the
    relative distance of its empirical NTK at init shrinks with width and is small at width 2048."""
    import neural_tangents as nt

    x = _signals(6)
    _, t = Q.kernels(arch, x, None, 1, W_STD, B_STD)
    f = lambda p, xx: Q.vec_apply(p, xx, W_STD, B_STD)  # noqa: E731
    err = []
    for w in (32, 2048):
        p = Q.vec_init(jax.random.PRNGKey(3), arch, w, 1, 40)
        k = np.asarray(nt.empirical_ntk_fn(f, trace_axes=(-1,), vmap_axes=0)(x, None, p))
        err.append(np.linalg.norm(k - t) / np.linalg.norm(t))
    assert err[1] < 0.1 and err[1] < err[0]


def test_tied_lcn_is_the_cnn():
    """An LCN whose per-position filters are all the CNN's filter computes the CNN's function."""
    x = _signals(3)
    pc = Q.vec_init(jax.random.PRNGKey(0), "cnn", 4, 2, 40)
    pl = [(np.broadcast_to(w, (40, *w.shape)), np.broadcast_to(b, (40, *b.shape))) for w, b in pc[:-1]] + [pc[-1]]
    np.testing.assert_allclose(Q.vec_apply(pl, x, W_STD, B_STD), Q.vec_apply(pc, x, W_STD, B_STD), rtol=1e-5,
                               atol=1e-5)


def test_equivariance_small_run_shapes():
    lrs = [1e-3, 3e-3, 1e-2]
    r = Q.equivariance(1, (2, 4), 30, 20, 30, 2, 6, 2, 10, lrs, [1e-3, 1e-1], W_STD, B_STD, seed=0)
    assert r["kernel_relative_difference"] < 1e-12 and r["kernel_advantage"] == 0.0
    assert set(r["nets"]) == {"2", "4"} and r["lr_grid"] == lrs and r["batch"] == 10
    assert r["zero_predictor_train_loss"] == pytest.approx(0.045)  # centred one-hot: 0.5 (0.9^2 + 9 x 0.1^2) / 10
    for row in r["nets"].values():
        for arch in ("cnn", "lcn"):
            a = row[arch]
            assert len(a["accuracy_per_seed"]) == 2 and a["lr"] in lrs and len(a["val_accuracy_per_lr"]) == 3
            assert all(st in (2, 4, 6) for st in a["stop_steps"]) and len(a["stop_steps"]) == 2
            assert a["final_train_loss"] > 0 and a["finite"]
        assert {"se_seeds", "se_points"} <= set(row["advantage"])
    did = r["advantage_narrow_minus_wide"]
    adv = {w: r["nets"][w]["advantage"]["mean_diff"] for w in ("2", "4")}
    assert did["mean_diff"] == pytest.approx(adv["2"] - adv["4"]) and did["se_points"] > 0


def test_standard_parameterization_is_the_same_function_at_init():
    """A standard-parameterization network (W ~ N(0, W_std^2 / fan_in), b ~ N(0, b_std^2)) computes the NTK-
    parameterized network of the same draw: the two parameterizations differ in training, not at init."""
    x = _signals(3)
    for arch in ("cnn", "lcn"):
        key = jax.random.PRNGKey(1)
        pn = Q.vec_init(key, arch, 4, 2, 40)
        ps = Q.vec_init(key, arch, 4, 2, 40, parameterization="standard", W_std=W_STD, b_std=B_STD)
        np.testing.assert_allclose(Q.vec_apply(ps, x, 1.0, 1.0, parameterization="standard"),
                                   Q.vec_apply(pn, x, W_STD, B_STD), rtol=1e-5, atol=1e-5)


def test_adam_training_fits_and_early_stopping_reads_back():
    """Adam drives the training loss well below the constant predictor's, and the parameters kept at a read give
    back the validation outputs recorded there."""
    from ntkrepro.data import load_split

    s = load_split("mnist1d", 60, 20, 0)
    x, y, xv = s.x_train[:40], s.y_train[:40], s.x_train[40:]
    outs, loss, kept = Q.train_adam("lcn", 4, 1, x, y, xv, [1e-2], 2, 60, 20, 40, W_STD, B_STD, seed=0)
    assert outs.shape == (1, 2, 3, 20, 10) and loss.shape == (1, 2, 3)
    assert loss[0, :, -1].max() < 0.5 * 0.5 * np.mean(y ** 2) and (loss[0, :, -1] < loss[0, :, 0]).all()
    back = Q.apply_at(kept, 0, [1, 2], xv)
    np.testing.assert_allclose(back[0], outs[0, 0, 1], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(back[1], outs[0, 1, 2], rtol=1e-4, atol=1e-5)


def test_shift_images():
    x = np.arange(16.0).reshape(1, 16)
    s = A.shift_images(x, (4, 4), 1, 0, -1.0).reshape(4, 4)
    assert (s[0] == -1).all() and (s[1:] == x.reshape(4, 4)[:3]).all()
    draw = A.augment(np.vstack([x, x]), (4, 4), A.SHIFTS_1PX, np.array([0, 1]), -1.0)
    assert (draw[0] == x[0]).all() and (draw[1] == s.reshape(16)).all()
    back = A.shift_images(A.shift_images(x, (4, 4), 0, 1, 0.0), (4, 4), 0, -1, 0.0).reshape(4, 4)
    assert (back[:, :3] == x.reshape(4, 4)[:, :3]).all()


def test_shift_ensemble_of_shift_invariant_inputs_is_the_single_predictor():
    """A constant image whose background (the fill) is its own value is unchanged by every shift: the ensemble's
    members are all the single predictor, so their mean is it."""
    rng = np.random.default_rng(0)
    x = np.repeat(rng.normal(size=(12, 1)), 16, axis=1)
    xt = np.repeat(rng.normal(size=(5, 1)), 16, axis=1)
    y = rng.normal(size=(12, 3))
    kfn = lambda a, b: (a @ (a if b is None else b).T + 1.0) ** 2  # noqa: E731
    # a one-image training set whose background (fill) is its own value: every shift leaves it unchanged
    for i in range(3):
        xi, yi, fill = x[i:i + 1], y[i:i + 1], float(x[i, 0])
        single = A.ensemble_outputs(kfn, xi, yi, xt, [np.zeros(1, int)], A.SHIFTS_1PX, (4, 4), fill, [1e-2])
        draws = [np.array([j]) for j in range(len(A.SHIFTS_1PX))]
        ens = A.ensemble_outputs(kfn, xi, yi, xt, draws, A.SHIFTS_1PX, (4, 4), fill, [1e-2])
        np.testing.assert_allclose(ens, single, rtol=1e-12)


def test_shift_ensemble_differs_on_real_images():
    from ntkrepro.data import load_split

    s = load_split("digits", 40, 20, 0)
    kfn = lambda a, b: a @ (a if b is None else b).T / a.shape[1] + 1.0  # noqa: E731
    fill = float(s.x_train.min())
    rng = np.random.default_rng(0)
    one = A.ensemble_outputs(kfn, s.x_train, s.y_train, s.x_test, [np.zeros(40, int)], A.SHIFTS_1PX, (8, 8), fill,
                             [1e-2])
    ens = A.ensemble_outputs(kfn, s.x_train, s.y_train, s.x_test, [rng.integers(0, 5, 40) for _ in range(3)],
                             A.SHIFTS_1PX, (8, 8), fill, [1e-2])
    assert np.abs(one - ens).max() > 1e-3


def test_augmentation_small_run():
    from ntkrepro.kernels import fcn_kernel_fn

    kfn = fcn_kernel_fn(1, W_STD, B_STD)
    r = A.augmentation_ensemble(lambda a, b: np.asarray(kfn(a, b, "nngp")), "digits", (8, 8), 60, 40, 2,
                                [1e-3, 1e-1], seed=0, kernel="fcn")
    assert len(r["single_accuracy"]) == 2 and len(r["ensemble_diag_reg"]) == 2
    assert r["mean_diff"] == pytest.approx(np.mean(np.subtract(r["ensemble_accuracy"], r["single_accuracy"])))


# ----------------------------------------------------------------------------- the new checks can pass and fail
def _synthetic_record():
    """The committed full record with a small synthetic F10 and X2 part attached (the committed record predates
    them, so tests/test_ledger.py skips these checks until the record is regenerated)."""
    from ntkrepro import CLAIMS
    from ntkrepro.io import read_json

    res = read_json(CLAIMS["finite_vs_infinite"].default_output_dir("full") / "results.json")
    arm = {"lr": 3e-3, "val_accuracy": 0.5, "accuracy_mean": 0.5, "accuracy_per_seed": [0.5] * 5,
           "final_train_loss": 0.1, "train_loss_at_stop": 0.2, "stop_steps": [500, 300, 400, 600, 200],
           "finite": True, "val_accuracy_per_lr": [0.4, 0.5, 0.45]}
    iv = {"mean_diff": 0.0, "ci_low": -0.01, "ci_high": 0.01, "n": 5, "se": 0.01, "mde": 0.03, "se_seeds": 0.005,
          "se_points": 0.008}
    eqv = {"dataset": "mnist1d", "n_train": 300, "n_val": 150, "n_test": 4550, "depth": 1, "readout": "flatten",
           "kernel": "ntk", "widths": [16, 64], "n_seeds": 5, "steps": 1500, "eval_every": 100, "batch": 100,
           "lr_grid": [1e-3, 3e-3, 1e-2], "optimizer": "Adam", "parameterization": "standard", "loss": "mse",
           "zero_predictor_train_loss": 0.045, "diag_reg_grid": [1e-4, 1e-2], "kernel_relative_difference": 0.0,
           "kernel_cnn": {"diag_reg": 1e-4, "val_accuracy": 0.4, "accuracy": 0.4},
           "kernel_lcn": {"diag_reg": 1e-4, "val_accuracy": 0.4, "accuracy": 0.4}, "kernel_advantage": 0.0,
           "nets": {w: {"cnn": arm, "lcn": arm, "advantage": iv} for w in ("16", "64")},
           "advantage_narrow_minus_wide": {**iv, "n_test": 4550, "method": "paired bootstrap"}, "architecture": "x"}
    aug = {"dataset": "digits", "n_splits": 6, "n_train": 500, "n_test": 797, "kernel": "fcn", "shifts": [[0, 0]],
           "members": 5, "form": "mean", "mean_diff": 0.0, "ci_low": -0.01, "ci_high": 0.01, "mde": 0.02,
           "single_accuracy": [0.98] * 6, "ensemble_accuracy": [0.98] * 6, "single_diag_reg": [1e-3] * 6,
           "ensemble_diag_reg": [1e-3] * 6, "diag_reg_grid": [1e-4, 1e-3, 1e-2], "wins": 0, "ties": 6}
    return {**res["metrics"], "equivariance": eqv, "augmentation": aug}, res["parameters"]


NEW_CHECKS = ["lcn_kernel_equals_cnn_kernel", "f10_nets_fit_training_set", "f10_nets_reach_kernel", "equivariance_helps_narrow_more", "equivariance_kernel_advantage_nil",
              "augmentation_ensemble_improves_kernel"]


@pytest.mark.parametrize("check", NEW_CHECKS)
def test_new_check_passes_and_fails(check):
    from ntkrepro import CLAIMS
    from ntkrepro.ledger import apply_overrides, evaluate_check

    claim = CLAIMS["finite_vs_infinite"]
    spec = next(s for s in claim.checks if s.name == check)
    metrics, params = _synthetic_record()
    good = evaluate_check(spec, apply_overrides(metrics, spec.passes_with), params, claim)
    bad = evaluate_check(spec, apply_overrides(metrics, spec.fails_with), params, claim)
    assert good["outcome"] == "pass", good
    assert bad["outcome"] == "fail", bad


def test_missing_sections_are_not_run():
    """A record without F10/X2 (the committed one, those sections removed) leaves their checks `not run`, never
    pass."""
    from ntkrepro import CLAIMS
    from ntkrepro.io import read_json
    from ntkrepro.ledger import evaluate_check

    claim = CLAIMS["finite_vs_infinite"]
    res = read_json(claim.default_output_dir("full") / "results.json")
    metrics = {k: v for k, v in res["metrics"].items() if k not in ("equivariance", "augmentation")}
    for name in NEW_CHECKS:
        spec = next(s for s in claim.checks if s.name == name)
        assert evaluate_check(spec, metrics, res["parameters"], claim)["outcome"] == "not run"


def test_interval_rows_include_f10_and_x2():
    """The intervals figure's F10 and X2 rows come from interval_rows (no separate glue): the gated intervals when
    the sections ran, None when they did not."""
    from ntkrepro.claims.finite_vs_infinite import claim as C
    from ntkrepro.claims.finite_vs_infinite.metrics import FiniteVsInfiniteMetrics

    metrics, _ = _synthetic_record()
    rows = {f: iv for f, _, iv in C.interval_rows(FiniteVsInfiniteMetrics.from_json(metrics)) if f in ("F10", "X2")}
    assert rows["F10"] == metrics["equivariance"]["advantage_narrow_minus_wide"]
    assert (rows["X2"]["ci_low"], rows["X2"]["ci_high"]) == (-0.01, 0.01)
    bare = {k: v for k, v in metrics.items() if k not in ("equivariance", "augmentation")}
    assert all(iv is None for f, _, iv in C.interval_rows(FiniteVsInfiniteMetrics.from_json(bare)) if f in ("F10", "X2"))


def test_old_f10_records_still_parse():
    """A record made before the Adam protocol (GD in the NTK parameterization: lr_max, lr_factor) still parses
    (its new fields absent), so the committed record reads until it is regenerated."""
    from ntkrepro.claims.finite_vs_infinite.metrics import FiniteVsInfiniteMetrics

    metrics, _ = _synthetic_record()
    eqv = metrics["equivariance"]
    old_arm = {k: v for k, v in eqv["nets"]["16"]["cnn"].items() if k not in ("lr", "stop_steps", "train_loss_at_stop")}
    old = {k: v for k, v in eqv.items() if k not in ("eval_every", "batch", "lr_grid", "optimizer", "parameterization",
                                                     "loss", "zero_predictor_train_loss")}
    old = {**old, "lr_max": 20.0, "lr_factor_grid": [0.1, 1.0],
           "nets": {w: {**r, "cnn": {**old_arm, "lr_max": 20.0, "lr_factor": 0.1}, "lcn": {**old_arm, "lr_max": 20.0,
                                                                                            "lr_factor": 1.0}}
                    for w, r in eqv["nets"].items()}}
    m = FiniteVsInfiniteMetrics.from_json({**metrics, "equivariance": old})
    assert m.equivariance.nets["16"].cnn.lr is None and m.equivariance.nets["16"].cnn.lr_factor == 0.1
