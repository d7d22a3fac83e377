"""The paired bootstrap over seeds and test points (issue 24, item 5: test-set sampling error)."""
import numpy as np
import pytest

from ntkrepro.stats import one_sample, paired_bootstrap


def test_bootstrap_includes_test_set_sampling_error():
    rng = np.random.default_rng(1)
    # 5 seeds, 300 test points, two arms that differ by ~2 points on average with per-point noise
    a = (rng.random((5, 300)) < 0.90).astype(float)
    b = (rng.random((5, 300)) < 0.88).astype(float)
    boot = paired_bootstrap(a, b, n_boot=500)
    t = one_sample(a.mean(1) - b.mean(1))
    assert boot["n"] == 5 and boot["n_test"] == 300 and "test points" in boot["method"]
    assert boot["ci_low"] < boot["mean_diff"] < boot["ci_high"]
    assert abs(boot["mean_diff"] - t["mean_diff"]) < 1e-12
    # one test set of 300 points: the binomial sd of a difference of two ~0.9 accuracies is ~0.025, so
    # the 90 % interval is at least ~0.05 wide whatever the seeds do
    assert boot["ci_high"] - boot["ci_low"] > 0.04


def test_bootstrap_identical_arms_give_a_zero_interval():
    a = np.ones((5, 50))
    boot = paired_bootstrap(a, a, n_boot=100)
    assert boot["ci_low"] == boot["ci_high"] == 0.0


def test_bootstrap_broadcasts_a_deterministic_arm_and_widens_with_disagreement():
    """A kernel's correctness (one row) against networks' (seeds x points), as claim 4 uses it."""
    rng = np.random.default_rng(1)
    b = rng.random(400) < 0.9
    same = paired_bootstrap(np.stack([b] * 5), b)
    assert same["mean_diff"] == 0 and same["ci_low"] == 0 == same["ci_high"]
    a = np.stack([b ^ (rng.random(400) < 0.1) for _ in range(5)])
    iv = paired_bootstrap(a, b)
    assert iv["ci_low"] < iv["mean_diff"] < iv["ci_high"]
    assert iv["mean_diff"] == pytest.approx((a.astype(float) - b).mean())
    assert iv["mde"] > 0 and "sd" not in iv  # not a t interval: the ledger reads its half-width


def test_bootstrap_width_is_the_test_sets_when_seeds_agree():
    """Identical seeds, independent test points: the seed spread is 0, the interval has the width of the
    test set's sampling error (normal approximation within 40 %)."""
    rng = np.random.default_rng(0)
    a = np.tile((rng.random(400) < 0.9).astype(np.int8), (5, 1))
    b = np.tile((rng.random(400) < 0.85).astype(np.int8), (5, 1))
    iv = paired_bootstrap(a, b)
    se = np.sqrt(np.var(a[0].astype(float) - b[0]) / 400)
    assert iv["ci_low"] < iv["mean_diff"] < iv["ci_high"]
    assert 0.6 < (iv["ci_high"] - iv["ci_low"]) / (2 * 1.645 * se) < 1.4
    assert iv["se"] == pytest.approx(se, rel=0.2)


def test_bootstrap_rejects_arms_of_different_shapes():
    with pytest.raises(ValueError, match="different shapes"):
        paired_bootstrap(np.ones((5, 10)), np.ones((4, 10)))
