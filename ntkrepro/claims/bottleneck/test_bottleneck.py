"""Bottleneck acceleration: kernel recursions and deep-linear dynamics against closed forms."""
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.linalg import expm

from ntkrepro.claims.bottleneck import science as E
from ntkrepro.numerics import tolerance


def test_g_kernels_match_arc_cosine_closed_form():
    """Dense(W_std=1) + Relu + Dense(W_std=sqrt 2), no bias: K = (|x||x'|/(pi m))(sin t + (pi-t) cos t),
    Theta = K + ((pi - t)/pi) x.x'/m."""
    x = np.random.default_rng(0).normal(size=(7, 5))
    K, T = E.g_kernels(x)
    G = x @ x.T / 5
    nrm = np.sqrt(np.diag(G))
    t = np.arccos(np.clip(G / np.outer(nrm, nrm), -1, 1))
    K_cf = np.outer(nrm, nrm) / np.pi * (np.sin(t) + (np.pi - t) * np.cos(t))
    T_cf = K_cf + (np.pi - t) / np.pi * G
    off = ~np.eye(7, dtype=bool)  # the diagonal goes through arccos(1): sqrt(eps) conditioning
    np.testing.assert_allclose(K[off], K_cf[off], atol=tolerance(np.float64, 10.0))
    np.testing.assert_allclose(T[off], T_cf[off], atol=tolerance(np.float64, 10.0))
    np.testing.assert_allclose(np.diag(K), np.diag(G), rtol=1e-7)


def test_ntk_loss_curve_equals_matrix_exponential():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(12, 12))
    K = A @ A.T / 12 + 0.1 * np.eye(12)
    B = rng.normal(size=(12, 12))
    Kn = B @ B.T / 12
    y = rng.normal(size=(12, 2))
    lr, t = 0.7, 9.0
    n, k = y.shape
    Et = expm(-lr * t * K / (n * k))
    direct = 0.5 * (np.sum((Et @ y) ** 2) + k * np.trace(Et @ Kn @ Et)) / (n * k)
    got = E.ntk_loss_curve(E.ntk_spectrum(K, Kn, y), lr, np.array([t]))[0]
    assert got == pytest.approx(direct, rel=1e-10)


def test_first_step_below_matches_brute_force():
    curve = np.exp(-np.arange(5000) / 300.0)
    loss_at = lambda t: float(curve[t])  # noqa: E731
    for level in (0.5, 0.1, 1e-3):
        assert E.first_step_below(loss_at, level, 4999) == int(np.nonzero(curve <= level)[0][0])
    assert E.first_step_below(loss_at, 1e-12, 4999) is None


def test_infinite_deep_linear_equals_closed_form():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(8, 200))
    Y = 3.0 * X[:1]
    W0 = rng.normal(scale=1 / np.sqrt(8), size=(1, 8))
    sim = np.asarray(E.infinite_linear_run(jnp.asarray(W0), jnp.asarray(X), jnp.asarray(Y), 1.0, 200))
    closed = E.infinite_linear_closed_form(W0, X, Y, 1.0, 200)
    np.testing.assert_allclose(sim, closed, atol=tolerance(np.float64, closed[0], 1e4))


def test_very_wide_bottleneck_approaches_infinite_net():
    rng = np.random.default_rng(3)
    m, d = 8, 20000
    X = rng.normal(size=(m, 200))
    Y = 2.0 * X[:1]
    U0 = rng.normal(scale=1 / np.sqrt(d), size=(1, d))
    V0 = rng.normal(scale=1 / np.sqrt(m), size=(d, m))
    _, _, bn = E.deep_linear_run(jnp.asarray(U0), jnp.asarray(V0), jnp.asarray(X), jnp.asarray(Y), 1.0, 100)
    inf = E.infinite_linear_run(jnp.asarray(U0 @ V0), jnp.asarray(X), jnp.asarray(Y), 1.0, 100)
    assert np.max(np.abs(np.asarray(bn) - np.asarray(inf))) < 0.05 * float(inf[0])


def test_balance_invariant_drift_is_order_lr():
    """C = d U'U - m V V' is conserved by gradient flow; GD drifts by O(lr)."""
    rng = np.random.default_rng(4)
    m, d = 6, 4
    X = rng.normal(size=(m, 100))
    Y = 4.0 * X[:1]
    U0, V0 = rng.normal(scale=1 / np.sqrt(d), size=(1, d)), rng.normal(scale=1 / np.sqrt(m), size=(d, m))
    C = lambda U, V: d * np.asarray(U).T @ np.asarray(U) - m * np.asarray(V) @ np.asarray(V).T  # noqa: E731
    drift = []
    for lr in (0.1, 0.05):
        U, V, _ = E.deep_linear_run(jnp.asarray(U0), jnp.asarray(V0), jnp.asarray(X), jnp.asarray(Y), lr, int(20 / lr))
        drift.append(np.linalg.norm(C(U, V) - C(U0, V0)))
    assert drift[1] < 0.7 * drift[0]


def test_task_targets_are_scaled():
    x, y, _, _ = E.make_task("linear", 3.0, 4000, 10, 5, np.random.default_rng(5))
    np.testing.assert_allclose(y[:, 0], 3.0 * x[:, 0])
    _, yq, _, _ = E.make_task("quadratic", 2.0, 20000, 10, 5, np.random.default_rng(6))
    assert np.std(yq) == pytest.approx(2.0, rel=0.05)


def test_stability_criterion_flags_chaotic_and_divergent_runs():
    smooth = np.exp(-0.05 * np.arange(200))
    assert E.is_stable(smooth, E.steps_to(smooth, 1e-3))
    bumpy = smooth.copy()
    bumpy[50:60] *= 3.0  # a transient rise, then it reaches the tolerance anyway
    assert not E.is_stable(bumpy, E.steps_to(bumpy, 1e-3))
    assert not E.is_stable(np.array([1.0, 0.5, np.inf]), None)
    # rises after the tolerance was reached do not count (round-off at the floor)
    late = np.concatenate([smooth, smooth[-1] * (1 + np.linspace(0, 1, 30))])
    assert E.is_stable(late, E.steps_to(late, 1e-3))


def test_welch_and_one_sample_intervals_cover_and_can_exclude_zero():
    from ntkrepro.stats import one_sample, welch

    rng = np.random.default_rng(3)
    a, b = rng.normal(1.0, 0.1, 8), rng.normal(0.0, 0.1, 8)
    w = welch(a, b)
    assert w["ci_low"] > 0.5 and w["ci_high"] < 1.5
    same = welch(a, a + 1e-3 * rng.normal(size=8))
    assert same["ci_low"] < 0 < same["ci_high"]
    o = one_sample(b)
    assert o["ci_low"] < 0 < o["ci_high"]


def test_batched_grid_equals_single_runs():
    """simulate_grid (vmapped over seeds and rates) reproduces simulate's loss curve and test error."""
    task = E.make_task("quadratic", 3.0, 48, 20, 6, np.random.default_rng(7))
    g = E.simulate_grid(task, 4, 64, [0.1, 0.3], [5, 6], 30)
    for s, seed in enumerate((5, 6)):
        for r, lr in enumerate((0.1, 0.3)):
            one = E.simulate(task, 4, 64, lr, 30, seed)
            np.testing.assert_allclose(g["curve"][s, r], one["curve"], rtol=2e-4)
            assert g["test_rel_mse"][s, r] == pytest.approx(one["test_rel_mse"], rel=2e-3)


def test_stable_run_rejects_blowup_allows_catapult():
    c = np.exp(-0.02 * np.arange(300))
    assert E.stable_run(c, 1.0)
    late = c.copy()
    late[-20:] = 5 * c.min() * np.arange(1, 21)
    assert not E.stable_run(late, 1.0)
    assert not E.stable_run(np.r_[c[:100], np.inf], 1.0)
    bumpy = c.copy()
    bumpy[20:30] *= 1.5  # a transient rise it recovers from
    assert E.stable_run(bumpy, 1.0)
    # a bump at low loss (below STABLE_FLOOR x base) that the run recovers from is not a blow-up
    floor = np.r_[np.exp(-0.1 * np.arange(200)), 1e-9 * (1 + 9 * (np.arange(100) % 2))]
    assert floor[-1] > 2 * floor.min() and E.stable_run(floor, 1.0)
    assert E.stable_run(np.r_[floor[:-1], 0.5 * E.STABLE_FLOOR], 1.0)
    assert not E.stable_run(np.r_[floor[:-1], 2 * E.STABLE_FLOOR], 1.0)  # back above 10 % of the base: a blow-up


def test_bootstrap_accuracy_carries_test_set_error():
    """With identical runs (no seed spread) the interval still has the binomial width of the test set."""
    rng = np.random.default_rng(0)
    row = rng.random(500) < 0.9
    iv = E.bootstrap_accuracy(np.tile(row, (5, 1)))
    half = (iv["ci_high"] - iv["ci_low"]) / 2
    assert half == pytest.approx(1.645 * np.sqrt(0.9 * 0.1 / 500), rel=0.25)
    # paired on the test points: two identical arms give a zero-width difference
    same = E.bootstrap_accuracy(np.tile(row, (5, 1)), np.tile(row, (3, 1)))
    assert abs(same["ci_low"]) < 1e-12 and abs(same["ci_high"]) < 1e-12
    better = E.bootstrap_accuracy(np.tile(row | (rng.random(500) < 0.5), (5, 1)), np.tile(row, (3, 1)))
    assert better["ci_low"] > 0


def test_censored_speedup_and_worst_width():
    from ntkrepro.claims.bottleneck.claim import _worst

    assert E._iv_steps(100, [50, None, 40], 1000)["censored"]
    iv = E._iv_steps(100, [50, 60, 40, 55, 45], 1000)
    assert iv["ci_low"] > 0
    ok, bad = {"ci_low": 0.1, "ci_high": 0.5}, {"ci_low": -0.5, "ci_high": -0.1}
    assert _worst([ok, bad]) is bad
    assert _worst([ok, {"censored": True}])["censored"]
    assert _worst([ok, {"censored": True}, bad]) is bad


def test_a_diverged_verdict_seed_censors_every_tuned_comparison():
    best = {"ntk": {"steps_to_10pct_extended": 100, "steps_to_1pct_extended": 300, "final_train_rel": 1e-5,
                    "test_rel_mse_expected": 0.5},
            "8": {"lr": 0.7, "steps_to_10pct": None, "steps_to_1pct": None, "test_rel_mse": float("nan"),
                  "steps_to_10pct_per_seed": [None, 60, 40], "steps_to_1pct_per_seed": [None, 240, 220],
                  "final_train_rel_per_seed": [None, 1e-4, 2e-4], "test_rel_mse_per_seed": [float("nan"), 0.3, 0.2]}}
    row = E.tuned_rows(best, 1200)["8"]
    for k in ("early_log_speedup", "late_log_speedup", "final_train_log_ratio", "test_gain"):
        assert row[k]["censored"], k


def _smoke_metrics():
    """The committed smoke record's metrics (JSON): the checks read the claim's typed record, so a test
    that poses a case overrides a part of a whole record (``apply_overrides``) and hands the claim over."""
    from ntkrepro.claims.bottleneck.claim import CLAIM
    from ntkrepro.io import read_json

    return read_json(CLAIM.default_output_dir("full") / "smoke" / "results.json")["metrics"]


def test_no_tuned_rate_at_the_rf_check_width_is_reported_not_a_crash():
    """amplitude 10 (claim map): no rate of d=32's grid stable on every tuning seed. The random-feature
    sweep is not run, rf_width_tuned says why, the where_from figure draws, and the control
    speedup_not_set_by_rf_width is ``not run`` with that reason (its gate is untouched)."""
    import matplotlib.pyplot as plt

    from ntkrepro.claims.bottleneck import figures as F
    from ntkrepro.claims.bottleneck.claim import CLAIM
    from ntkrepro.ledger import apply_overrides, evaluate_check

    rf = E.rf_width_tuned(None, {"32": {"chosen": None}}, 1.0, check_widths=[32], widths=[2, 8, 32],
                          rf_widths=[256, 1024], rf_width=512, tune_steps=150, steps=400, seed=0)  # nothing to sweep at
    assert rf["32"]["by_M"] == {} and "no rate" in rf["32"]["not_run"]
    m = apply_overrides(_smoke_metrics(), {"rf_width_sweep": {}, "rf_width_tuned": rf})
    head = {"ntk": {"steps_to_10pct": 300, "steps_to_10pct_extended": 300}}
    plt.close(F.where_from(E.rf_width_sweep(rf), {"steps_to_10pct": None}, head))
    spec = next(s for s in CLAIM.checks if s.name == "speedup_not_set_by_rf_width")
    row = evaluate_check(spec, m, {"profile": "smoke", "rf_width": 512}, CLAIM)
    assert row["outcome"] == "not run" and "d=32: no rate" in row["reason"]
    swept = {"by_M": {"512": {"steps_to_10pct": 100}, "1024": {"steps_to_10pct": 110}}}
    point = {"lr": 0.5, "steps_to_1pct": None, "final_train_rel": 0.01}
    ok = apply_overrides(m, {"rf_width_sweep": {M: {"d": 8, **point, **r} for M, r in swept["by_M"].items()}})
    assert evaluate_check(spec, ok, {"profile": "smoke", "rf_width": 512}, CLAIM)["outcome"] == "pass"


def test_hybrid_check_not_applicable_when_no_level_is_reached():
    """amplitude 1 (claim map): neither the finite net nor the hybrid reaches 10 % in the run, so there
    is no step ratio to gate; the check is not run, with the reason, instead of failing on the
    final-loss ratio. A level reached by one run only never passes; both reached: the gate decides."""
    from ntkrepro.claims.bottleneck.claim import CLAIM
    from ntkrepro.ledger import apply_overrides, evaluate_check, failed_implementation_checks

    spec = next(s for s in CLAIM.checks if s.name == "hybrid_matches_finite_network")
    smoke = _smoke_metrics()

    def row(f10, r10, f1=None, r1=None):
        fc = {"amplitude": 1.0, "d": 8, "width": 256, "steps": 400, "final_loss_ratio": 1.82,
              "finite": {"steps_to_10pct": f10, "steps_to_1pct": f1, "final_train_rel": 0.34},
              "reference": {"steps_to_10pct": r10, "steps_to_1pct": r1, "final_train_rel": 0.19}}
        return evaluate_check(spec, apply_overrides(smoke, {"finite_check.bottleneck": fc}), {"profile": "smoke"}, CLAIM)

    none = row(None, None)
    assert none["outcome"] == "not run" and "neither the finite network nor the hybrid reached" in none["reason"]
    assert failed_implementation_checks({"checks": [none]}) == []
    # reached by one run only: an infinite ratio, never a pass (the ledger turns a non-finite value into
    # ``not run``; that pre-existing rule is not this check's to change)
    assert row(300, None)["outcome"] != "pass"
    assert row(170, 160)["outcome"] == "pass"
    assert row(400, 170)["outcome"] == "fail"
    assert row(170, 160, 400, 200)["outcome"] == "fail"  # the 1 % level still counts


def test_rule_steps_one_below_the_stability_edge():
    """Issue 28, re-posed: a synthetic stability table (3 tuning seeds) -> the chosen index is one grid
    step below the fastest rate stable on every tuning seed, whatever the model."""
    grid = 0.1 * 1.886 ** np.arange(6)
    steps = [(300, 1), (200, 1), (120, 1), (70, 1), (40, 1), (20, 1)]
    c = E._choose(grid, [3, 3, 3, 3, 2, 0], steps, 3)
    assert c["fastest_index"] == 3 and c["chosen_index"] == 2 and c["chosen"] == pytest.approx(grid[2])
    assert c["margin"] == pytest.approx(1.886) and c["smallest_unstable_above"] == pytest.approx(grid[4])
    assert not c["at_edge"] and c["candidates"] == pytest.approx(grid[:-1].tolist())
    # the fastest stable rate need not be the largest stable one (a slow catapult): the margin is from the
    # largest stable rate (the stability edge), and the fastest rate below it is chosen
    c = E._choose(grid, [3, 3, 3, 3, 3, 0], steps[:4] + [(90, 1), (20, 1)], 3)
    assert c["fastest_index"] == 3 and c["chosen_index"] == 3 and c["largest_stable"] == pytest.approx(grid[4])
    assert c["margin"] == pytest.approx(1.886)
    # non-monotone speed below the edge: the fastest candidate, not the one next to the edge
    c = E._choose(grid, [3, 3, 3, 3, 3, 0], [(300, 1), (200, 1), (100, 1), (130, 1), (40, 1), (20, 1)], 3)
    assert c["chosen_index"] == 2 and c["margin"] == pytest.approx(1.886 ** 2)
    # the rate one step below not stable on every seed: the next stable rate below
    c = E._choose(grid, [3, 3, 1, 3, 0, 0], steps, 3)
    assert c["fastest_index"] == 3 and c["chosen_index"] == 1 and c["margin"] == pytest.approx(1.886 ** 2)


def test_rule_edges_are_inconclusive():
    grid = 0.1 * 1.886 ** np.arange(5)
    fast = [(50 - 10 * i,) for i in range(5)]
    top = E._choose(grid, [3] * 5, fast, 3)  # fastest stable at the grid's top: the edge was not found
    assert top["chosen_index"] == 3 and top["at_edge"]
    low = E._choose(grid, [3, 3, 0, 0, 0], fast, 3)  # lands on the grid's bottom: no rate below the choice
    assert low["chosen_index"] == 0 and low["at_edge"]
    none = E._choose(grid, [3, 0, 0, 0, 0], fast, 3)  # the fastest stable is the bottom: nothing below it
    assert none["chosen"] is None and none["at_edge"] and none["fastest_index"] == 0
    assert E._choose(grid, [2, 1, 0, 0, 0], fast, 3)["chosen"] is None
    inner = E._choose(grid, [3, 3, 3, 0, 0], fast, 3)
    assert inner["chosen_index"] == 1 and not inner["at_edge"]


def test_ntk_gd_curve_is_discrete_gd_and_diverges_past_lr_max():
    rng = np.random.default_rng(8)
    A = rng.normal(size=(10, 10))
    K = A @ A.T / 10
    y = rng.normal(size=(10, 1))
    spec = E.ntk_spectrum(K, np.zeros((10, 10)), y)
    lr = 0.7 * 2 * 10 / spec[0][-1]
    r, direct = y.copy(), []
    for _ in range(6):
        direct.append(0.5 * np.mean(r**2))
        r = r - lr * K @ r / 10
    np.testing.assert_allclose(E.ntk_gd_loss_curve(spec, lr, np.arange(6)), direct, rtol=1e-10)
    lr_max = 2 * 10 / spec[0][-1]
    assert E.stable_run(E.ntk_gd_loss_curve(spec, 0.99 * lr_max, np.arange(301)), 1.0)
    assert not E.stable_run(E.ntk_gd_loss_curve(spec, 1.05 * lr_max, np.arange(301)), 1.0)


def test_ntk_is_tuned_by_the_same_rule():
    """The NTK's grid on the shared lattice lr_max r^(k + 1/2): its fastest stable rate is lr_max r^-1/2 (the
    largest grid rate below its exact bound, judged by the same criterion on its discrete-GD closed form),
    and the chosen one is one step below, lr_max r^-3/2, not at an edge of the full profile's grid."""
    from ntkrepro.claims.bottleneck.claim import PARAMS

    rng = np.random.default_rng(9)
    A = rng.normal(size=(40, 40))
    K = A @ A.T / 40 + 0.05 * np.eye(40)
    y = rng.normal(size=(40, 1))
    spec = E.ntk_spectrum(K, 0.1 * K, y)
    lr_max = 2 * 40 / spec[0][-1]
    r = 1.886
    t = E.tune_ntk(spec, lr_max, PARAMS.profiles["full"]["lr_factors"], 300, 0.5 * np.mean(y**2), 3)
    assert t["fastest_stable"] == pytest.approx(lr_max * r**-0.5, rel=1e-4)
    assert t["chosen"] == pytest.approx(lr_max * r**-1.5, rel=1e-4) and t["margin"] == pytest.approx(r, rel=1e-4)
    assert t["smallest_unstable_above"] == pytest.approx(lr_max * r**0.5, rel=1e-4) and not t["at_edge"]


def test_every_grid_is_on_one_lattice():
    from ntkrepro.claims.bottleneck.claim import CLAIM, lattice, on_lattice

    for prof in ("smoke", "full"):
        P = CLAIM.params.resolve({"profile": prof}, CLAIM.default_output_dir)
        assert on_lattice(P.lr_factors, P.lr_ratio) and on_lattice(P.bottleneck_lr_factors, P.lr_ratio)
    full = CLAIM.params.resolve({"profile": "full"}, CLAIM.default_output_dir)
    assert len(full.lr_factors) >= 8 and len(full.bottleneck_lr_factors) >= 8 and full.tune_seeds >= 3
    assert full.seeds >= 5
    assert not on_lattice([0.1, 0.2, 0.4], 1.886) and not on_lattice(lattice(1.886, 0, 1) + [9.0], 1.886)
    with pytest.raises(ValueError, match="lr_factors"):  # the old NTK grid, topped at 0.99 lr_max
        CLAIM.params.resolve({"profile": "full", "lr_factors": [0.03, 0.1, 0.3, 0.99]}, CLAIM.default_output_dir)
    with pytest.raises(ValueError, match="lr_factors"):  # on the lattice but not reaching past the bound
        CLAIM.params.resolve({"profile": "full", "lr_factors": lattice(1.886, -7, -1)}, CLAIM.default_output_dir)
