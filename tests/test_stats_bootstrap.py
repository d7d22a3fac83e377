"""The paired bootstrap over seeds and test points (issue 24, item 5: test-set sampling error)."""
import numpy as np

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
