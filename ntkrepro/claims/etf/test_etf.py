"""ETF compression: the dual activation and the ETF closed forms against independent computations."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkrepro.dual import kappa, kappa_prime, quadratic_kernel, relu_kernel
from ntkrepro.claims.etf import science as E
from ntkrepro.numerics import tolerance

TOL = tolerance(np.float64)


def test_kappa_special_values_and_series():
    assert float(kappa(1.0)) == pytest.approx(0.5, abs=TOL)
    assert float(kappa(0.0)) == pytest.approx(1 / (2 * np.pi), abs=TOL)
    assert float(kappa(-1.0)) == pytest.approx(0.0, abs=TOL)
    assert float(kappa(-0.5)) == pytest.approx(np.sqrt(3) / (4 * np.pi) - 1 / 12, abs=TOL)
    rho = 0.1  # Hermite series 1/(2pi) + rho/4 + rho^2/(4pi) + rho^4/(48pi) + O(rho^6)
    series = 1 / (2 * np.pi) + rho / 4 + rho**2 / (4 * np.pi) + rho**4 / (48 * np.pi)
    assert float(kappa(rho)) == pytest.approx(series, abs=1e-7)


def test_kappa_gradient_is_finite_at_minus_one_and_matches_finite_differences():
    g = jax.grad(kappa)
    assert float(g(-1.0)) == 0.0 and np.isfinite(float(g(1.0)))
    for rho in (-0.7, 0.0, 0.4):
        h = 1e-6
        fd = (float(kappa(rho + h)) - float(kappa(rho - h))) / (2 * h)
        assert float(g(rho)) == pytest.approx(fd, abs=1e-8)
        assert float(kappa_prime(rho)) == float(g(rho))


def test_kernels_match_monte_carlo():
    rng = np.random.default_rng(0)
    U, V = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    x = rng.normal(size=(400_000, 3))
    for kern, act in ((relu_kernel, lambda z: np.maximum(z, 0)), (quadratic_kernel, np.square)):
        prods = act(x @ U.T)[:, :, None] * act(x @ V.T)[:, None, :]
        mc, se = prods.mean(0), prods.std(0) / np.sqrt(len(x))
        assert np.all(np.abs(mc - np.asarray(kern(jnp.asarray(U), jnp.asarray(V)))) < 5 * se)


@pytest.mark.parametrize("M,d", [(2, 5), (3, 3), (5, 4), (6, 12)])
def test_centred_etf_closed_form_equals_loss_at_constructed_frame(M, d):
    ref = E.etf_centred(M, alpha=0.8)
    V = E.etf_frame(M, d, ref["r_star"], np.random.default_rng(1))
    G = V @ V.T / ref["r_star"] ** 2
    np.testing.assert_allclose(G, np.where(np.eye(M), 1.0, -1 / (M - 1)), atol=TOL)
    loss = float(E.sim_loss(jnp.asarray(V), jnp.ones(M), 0.8, 0.0, jnp.eye(d)[0]))
    assert loss == pytest.approx(ref["L_star"], abs=TOL)


def test_special_cases_m1_m2():
    assert E.etf_centred(2)["L_star"] == pytest.approx((np.pi - 2) / (2 * np.pi**2), abs=TOL)
    assert E.etf_centred(2)["r_star"] == pytest.approx(1 / np.pi, abs=TOL)
    assert E.etf_centred(3)["C_M"] == pytest.approx(1 + 3 * np.sqrt(3) / (2 * np.pi), abs=TOL)


def test_etf_is_a_stationary_point_and_perturbations_raise_the_loss():
    M, d = 4, 6
    ref = E.etf_centred(M)
    V = jnp.asarray(E.etf_frame(M, d, ref["r_star"], np.random.default_rng(2)))
    f = lambda V: E.sim_loss(V, jnp.ones(M), 1.0, 0.0, jnp.eye(d)[0])  # noqa: E731
    assert float(jnp.abs(jax.grad(f)(V)).max()) < 1e-12
    rng = np.random.default_rng(3)
    assert all(float(f(V + 1e-3 * rng.normal(size=V.shape))) > ref["L_star"] for _ in range(20))


def test_tilted_closed_form_equals_loss_at_constructed_frame():
    M, d, alpha, c = 3, 6, 1.0, 0.6
    ref = E.tilted_etf(M, alpha, c)
    e = E.etf_frame(M, d - 1, 1.0, np.random.default_rng(4))  # unit simplex in mu^perp
    V = ref["r_star"] * np.hstack([np.full((M, 1), ref["t_star"]), np.sqrt(1 - ref["t_star"] ** 2) * e])
    loss = float(E.sim_loss(jnp.asarray(V), jnp.ones(M), alpha, c, jnp.eye(d)[0]))
    assert loss == pytest.approx(ref["L_star"], abs=TOL)
    assert E.tilted_etf(M, alpha, 0.0)["t_star"] == pytest.approx(0.0, abs=1e-6)


def test_simplified_loss_is_the_limit_of_the_exact_loss():
    """Exact loss with a huge centred target in high dimension approaches L_sim (error ~ 1/d + 1/N)."""
    rng = np.random.default_rng(5)
    M, d, N = 3, 400, 3000
    V = E.etf_frame(M, d, E.etf_centred(M)["r_star"], rng)
    W, a, _ = E.sample_target(N, d, 0.0, 1.0, "gaussian", rng)
    exact = float(E.exact_loss(jnp.asarray(V), jnp.ones(M), jnp.asarray(W), jnp.asarray(a), E.target_energy(W, a)))
    assert exact == pytest.approx(E.etf_centred(M)["L_star"], abs=2e-3)


def test_quadratic_orthogonal_closed_form():
    M, d = 3, 10
    ref = E.quadratic_orthogonal(M, d)
    V = np.sqrt(ref["norm_sq"]) * np.eye(d)[:M]
    assert float(E.quad_loss(jnp.asarray(V), d)) == pytest.approx(ref["L_star"], abs=TOL)


def test_monte_carlo_loss_estimator():
    rng = np.random.default_rng(6)
    W, a, _ = E.sample_target(50, 4, 0.0, 1.0, "gaussian", rng)
    V = rng.normal(size=(2, 4)) * 0.3
    closed = float(E.exact_loss(jnp.asarray(V), jnp.ones(2), jnp.asarray(W), jnp.asarray(a), E.target_energy(W, a)))
    mean, se = E.monte_carlo_loss(W, a, V, 400_000, 0)
    assert abs(mean - closed) < 5 * se


def test_tilted_single_neuron_and_centred_limit():
    """M = 1: a single neuron along mu; c = 0 gives back the centred closed forms for every M."""
    c, alpha = 0.6, 0.9
    one = E.tilted_etf(1, alpha, c)
    ts = np.linspace(-1, 1, 4001)  # brute force over the tilt of one neuron at its best norm
    best = max(float(kappa(c * t)) ** 2 / 0.5 for t in ts)
    assert one["L_star"] == pytest.approx(alpha**2 * (float(kappa(c**2)) - best), abs=1e-12)
    for M in (1, 2, 3, 7):
        assert E.tilted_etf(M, alpha, 0.0)["L_star"] == pytest.approx(E.etf_centred(M, alpha)["L_star"], abs=1e-12)


def test_pentagon_closed_form_equals_loss_and_lies_above_the_infeasible_etf():
    ref = E.pentagon(0.8)
    ang = 2 * np.pi * np.arange(5) / 5
    V = ref["r_star"] * np.stack([np.cos(ang), np.sin(ang)], 1)
    loss = float(E.sim_loss(jnp.asarray(V), jnp.ones(5), 0.8, 0.0, jnp.eye(2)[0]))
    assert loss == pytest.approx(ref["L_star"], abs=TOL)
    assert ref["L_star"] > E.etf_centred(5, 0.8)["L_star"]
    assert E._match_pentagon(V) < 1e-12
    assert E._match_pentagon(V[[0, 2, 4, 1, 3]]) < 1e-12  # any vertex order
    assert E._match_pentagon(V * np.array([[1.0], [1.0], [1.0], [1.0], [1.0]]) + 0.05 * np.eye(5, 2)) > 1e-3


def test_sign_pattern_ps():
    assert E.sign_pattern_ps(4, 5) == [1, 2, 3]
    ps = E.sign_pattern_ps(21, 5)
    assert ps[0] == 1 and ps[-1] == 20 and len(ps) == 5


def test_a_hidden_negative_neuron_costs_nothing():
    """relu(v.x) - relu(u.x) = relu((v - u).x) for u parallel to v with |u| < |v|: a negative neuron can
    switch off by hiding inside a positive one, so the mixed-sign optimum can sit at the ETF(M - p) loss
    with a nonzero negative neuron (why the sign-pattern check gates losses, not norms)."""
    M, d, alpha = 3, 5, 0.8
    ref = E.etf_centred(M, alpha)
    V = E.etf_frame(M, d, ref["r_star"], np.random.default_rng(7))
    u = 0.3 * V[0]
    W = np.vstack([V[0] + u, V[1:], u])
    b = np.array([1.0, 1.0, 1.0, -1.0])
    loss = float(E.sim_loss(jnp.asarray(W), jnp.asarray(b), alpha, 0.0, jnp.eye(d)[0]))
    assert loss == pytest.approx(ref["L_star"], abs=1e-12)


def test_sample_target_families():
    rng = np.random.default_rng(8)
    W, a, _ = E.sample_target(2000, 10, 0.0, 1.0, "random_a", rng, a_spread=0.5)
    assert a.sum() == pytest.approx(1.0, abs=0.05) and a.std() * 2000 == pytest.approx(0.5, abs=0.05)
    W, a, _ = E.sample_target(50, 10, 0.0, 1.0, "rademacher", rng)
    assert np.allclose(np.abs(W) * np.sqrt(10), 1.0) and np.allclose(a, 1 / 50)
    with pytest.raises(ValueError, match="weights"):
        E.sample_target(5, 3, 0.0, 1.0, "cauchy", rng)


def test_readings_of_the_non_centred_conjecture():
    """The referee's numbers (M = 3, c = 0.6): tight tilted frame 0.0204, simplex ETF in mu-perp 0.1348,
    optimum 0.0129; at c = 0 the simplex is the optimum (the centred closed form)."""
    from ntkrepro.claims.etf import science as S

    r = S.readings(3, 1.0, 0.6)
    assert abs(r["tight_frame_loss"] - 0.020437) < 1e-6 and abs(r["simplex_etf_loss"] - 0.134804) < 1e-6
    assert abs(r["optimum_loss"] - 0.012905) < 1e-6
    r0 = S.readings(5, 1.0, 0.0)
    L = S.etf_centred(5, 1.0)["L_star"]
    assert abs(r0["simplex_etf_loss"] - L) < 1e-12 and abs(r0["optimum_loss"] - L) < 1e-9
    assert r0["tight_frame_loss"] > L  # the orthonormal frame is not the centred optimum


def test_tilted_loss_at_matches_sim_loss_of_the_frame():
    import jax.numpy as jnp

    from ntkrepro.claims.etf import science as S

    M, d, c, t = 4, 6, 0.5, 0.3
    E_ = S.etf_frame(M, d - 1, 1.0, np.random.default_rng(0))  # unit simplex in mu-perp
    best = min(float(S.sim_loss(jnp.asarray(r * np.hstack([np.full((M, 1), t), np.sqrt(1 - t**2) * E_])),
                                jnp.ones(M), 1.0, c, jnp.eye(d)[0])) for r in np.linspace(0.01, 1.0, 2000))
    assert abs(best - S.tilted_loss_at(M, 1.0, c, t)) < 1e-6


def _committed_smoke_metrics():
    import json

    from ntkrepro.provenance import REPO_ROOT

    return json.loads((REPO_ROOT / "figures" / "etf" / "smoke" / "results.json").read_text())["metrics"]


def test_metrics_record_without_the_free_sign_variant_parses():
    """train_b = false produces no free-sign fields: the record parses, round-trips, and the checks that read the
    centred rows still evaluate."""
    import copy

    from ntkrepro.claims.etf.claim import CLAIM
    from ntkrepro.claims.etf.metrics import EtfMetrics
    from ntkrepro.ledger import evaluate_check

    m = copy.deepcopy(_committed_smoke_metrics())
    for row in m["centred"].values():
        del row["free_b_gd_loss_min"], row["free_b_etf_hit_rate"]
    typed = EtfMetrics.from_json(m)
    assert typed.centred["2"].free_b_gd_loss_min is None and typed.to_json() == m
    params = {**CLAIM.params.profiles["smoke"], "profile": "smoke", "train_b": False}
    spec = next(s for s in CLAIM.checks if s.name == "no_restart_below_etf")
    assert evaluate_check(spec, m, params, CLAIM)["outcome"] == "pass"


def test_metrics_record_names_a_renamed_metric():
    import copy

    from ntkrepro.claims.etf.metrics import EtfMetrics
    from ntkrepro.metrics import MetricsError

    m = copy.deepcopy(_committed_smoke_metrics())
    m["tilted"]["2"]["gram_dev"] = m["tilted"]["2"].pop("gram_max_dev")
    with pytest.raises(MetricsError, match=r"metrics\.tilted\.2"):
        EtfMetrics.from_json(m)
