"""X1 (issue 29 item 7): the layer-wise scaled L2 of a standard-parameterization network, and the study at a tiny
size (every key, grids and choices consistent, the interval from paired_bootstrap, a control that ties)."""
import jax
import numpy as np
import pytest

from ntkrepro.claims.finite_vs_infinite import l2scaling as X

W_STD, B_STD = 2 ** 0.5, 0.1

TINY_GRID = {"lr": [0.01, 0.03], "plain": [1e-4, 1e-3, 1e-2], "scaled": [1e-6, 1e-5, 1e-4]}
TINY = dict(depth=1, n_train=100, n_val=50, n_test=80, steps=20, eval_every=10, batch=25, tuning_seeds=2,
            n_seeds=2)


@pytest.mark.parametrize("depth", [1, 2])
def test_scaled_penalty_is_the_ntk_parameterization_l2(depth):
    """The same function in both parameterizations (stax "ntk" and "standard" from the same key: W = W_std
    omega / sqrt(n), b = b_std beta): the scaled penalty of (W, b) equals sum ||omega||^2 + ||beta||^2, and the
    plain one equals sum ||W||^2 + ||b||^2 (which it does not)."""
    x = np.random.default_rng(0).normal(size=(7, 12))
    width = 24
    key = jax.random.PRNGKey(5)
    init_n, apply_n, _ = X.fcn(width, depth, W_STD, B_STD, parameterization="ntk")
    init_s, apply_s, _ = X.fcn(width, depth, W_STD, B_STD, parameterization="standard")
    pn, ps = init_n(key, x.shape)[1], init_s(key, x.shape)[1]
    np.testing.assert_allclose(apply_s(ps, x), apply_n(pn, x), rtol=1e-10, atol=1e-10)
    fi = X.fan_ins(12, width, depth)
    ntk_l2 = sum(float(np.sum(np.square(w)) + np.sum(np.square(b))) for w, b in X._dense(pn))
    std_l2 = sum(float(np.sum(np.square(w)) + np.sum(np.square(b))) for w, b in X._dense(ps))
    scaled = float(X.l2_penalty(ps, fi, W_STD, B_STD, scaled=True))
    plain = float(X.l2_penalty(ps, fi, W_STD, B_STD, scaled=False))
    np.testing.assert_allclose(scaled, ntk_l2, rtol=1e-10)
    np.testing.assert_allclose(plain, std_l2, rtol=1e-12)
    assert abs(scaled - plain) > 0.5 * plain  # the two penalties really differ


def test_penalty_rejects_wrong_fan_ins():
    init_s = X.fcn(8, 1, W_STD, B_STD)[0]
    p = init_s(jax.random.PRNGKey(0), (-1, 4))[1]
    with pytest.raises(ValueError, match="fan_ins"):
        X.l2_penalty(p, [4], W_STD, B_STD, scaled=True)


@pytest.fixture(scope="module")
def tiny():
    return X.x1_study([16, 32], {16: TINY_GRID, 32: TINY_GRID}, **TINY)


def test_study_keys_grids_and_choices(tiny):
    from ntkrepro.stats import paired_bootstrap

    for k in ("dataset", "n_train", "n_val", "n_test", "depth", "widths", "steps", "architecture", "loss",
              "optimizer", "per_width"):
        assert k in tiny
    assert tiny["widths"] == [16, 32] and set(tiny["per_width"]) == {"16", "32"}
    assert not set(tiny["tuning_seeds"]) & set(tiny["verdict_seeds"])
    for row in tiny["per_width"].values():
        for arm in X.ARMS:
            r = row[arm]
            for k in ("lambda_grid", "lr_grid", "chosen", "val_accuracy_grid", "accuracy_per_seed", "accuracy_mean",
                      "stop_steps"):
                assert k in r
            assert r["lambda_grid"] == TINY_GRID[arm] and r["lr_grid"] == TINY_GRID["lr"]
            grid = np.array(r["val_accuracy_grid"])
            assert grid.shape == (3, 2)
            i, j = r["lambda_grid"].index(r["chosen"]["lambda"]), r["lr_grid"].index(r["chosen"]["lr"])
            assert grid[i, j] == grid.max()
            assert len(r["accuracy_per_seed"]) == TINY["n_seeds"] == len(r["stop_steps"])
            assert all(0 < s <= TINY["steps"] and s % TINY["eval_every"] == 0 for s in r["stop_steps"])
            assert np.isclose(r["accuracy_mean"], np.mean(r["accuracy_per_seed"]))
            assert np.allclose(np.mean(row["_correct"][arm], 1), r["accuracy_per_seed"])
        assert "accuracy_mean" in row["no_l2"] and row["no_l2"]["chosen"]["lambda"] == 0.0
        adv = paired_bootstrap(np.array(row["_correct"]["scaled"]), np.array(row["_correct"]["plain"]), seed=0)
        for k in ("mean_diff", "ci_low", "ci_high", "n", "se", "mde", "n_test", "method", "se_seeds", "se_points"):
            assert row["advantage"][k] == adv[k]
        assert row["advantage"]["n"] == TINY["n_seeds"] and row["advantage"]["n_test"] == TINY["n_test"]


def test_control_scaled_arm_replaced_by_plain_ties():
    """The 'scaled' arm given the plain penalty and grid: the two arms are the same runs, the interval is 0."""
    r = X.x1_study([16], {16: TINY_GRID}, scaled_penalty=False, **TINY)["per_width"]["16"]
    assert r["scaled"]["chosen"] == r["plain"]["chosen"]
    assert r["advantage"]["mean_diff"] == 0.0
    assert r["advantage"]["ci_low"] <= 0.0 <= r["advantage"]["ci_high"]
