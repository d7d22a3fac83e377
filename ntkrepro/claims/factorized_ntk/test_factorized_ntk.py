"""Factorized NTK: H^inf against its series form, the empirical NTK against autodiff, projections."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkrepro.claims.factorized_ntk import science as E
from ntkrepro.numerics import tolerance


@pytest.fixture(scope="module")
def X():
    return E.make_data("sphere", 12, 16, 4, np.random.default_rng(0))


def test_h_inf_equals_series_form(X):
    """Off the diagonal (|cos| < 1) the arcsin series converges geometrically; on it (cos = 1) its
    tail decays like terms^(-1/2)."""
    off = ~np.eye(len(X), dtype=bool)
    np.testing.assert_allclose(E.h_inf(X)[off], E.h_inf_series(X, terms=2000)[off], atol=tolerance(np.float64))
    tails = [np.abs(np.diag(E.h_inf(X) - E.h_inf_series(X, t))).max() for t in (100, 400, 1600)]
    assert tails[0] > tails[1] > tails[2]
    assert tails[2] < 1 / np.sqrt(1600)


def test_h_inf_facts(X):
    H = E.h_inf(X)
    np.testing.assert_allclose(np.diag(H), 0.5, atol=tolerance(np.float64))
    assert E.lambda_min(H) >= np.linalg.eigvalsh(X @ X.T)[0] / 4 - tolerance(np.float64)
    Q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(16, 16)))
    np.testing.assert_allclose(E.h_inf(X @ Q), H, atol=tolerance(np.float64))


def test_empirical_ntk_equals_autodiff(X):
    rng = np.random.default_rng(2)
    W, a = rng.normal(size=(64, 16)), rng.choice([-1.0, 1.0], size=64)
    jac = jax.jacrev(lambda W: E.du_net(W, jnp.asarray(a), jnp.asarray(X)))(jnp.asarray(W))
    J = np.asarray(jac).reshape(len(X), -1)
    np.testing.assert_allclose(E.empirical_ntk(W, X), J @ J.T, atol=tolerance(np.float64, 1.0))


def test_empirical_ntk_fluctuation_matches_closed_form(X):
    """m E||H(0) - H^inf||_F^2 = sum_ij G_ij^2 p_ij (1 - p_ij), p = (pi - theta)/(2 pi)."""
    rng = np.random.default_rng(3)
    m, draws = 200, 400
    G = X @ X.T
    p = (np.pi - np.arccos(np.clip(G, -1, 1))) / (2 * np.pi)
    exact = np.sum(G**2 * p * (1 - p))
    vals = [m * np.sum((E.empirical_ntk(rng.normal(size=(m, 16)), X) - E.h_inf(X)) ** 2) for _ in range(draws)]
    assert abs(np.mean(vals) - exact) < 4 * np.std(vals) / np.sqrt(draws)


def test_hadamard_with_k_equal_d_is_orthogonal(X):
    J = E.projection("hadamard", 16, 16, np.random.default_rng(4))
    np.testing.assert_allclose(J @ J.T, np.eye(16), atol=tolerance(np.float64, 16.0))
    np.testing.assert_allclose(E.h_inf(E.project(X, J)), E.h_inf(X), atol=tolerance(np.float64))


def test_gaussian_projection_is_unbiased():
    J = E.projection("gaussian", 2000, 8, np.random.default_rng(5))
    np.testing.assert_allclose(J.T @ J, np.eye(8), atol=0.15)


def test_k1_projection_makes_points_parallel(X):
    Z = E.project(X, E.projection("gaussian", 1, 16, np.random.default_rng(6)))
    assert set(np.round(Z[:, 0], 12)) <= {-1.0, 1.0}
    assert abs(E.lambda_min(E.h_inf(Z))) < tolerance(np.float64, 1.0, 1e3)


@pytest.mark.parametrize("d", [2, 8, 64])
def test_fwht_srht_equals_dense_matrix(d):
    from scipy.linalg import hadamard

    rng = np.random.default_rng(d)
    X = rng.normal(size=(5, d))
    np.testing.assert_allclose(np.asarray(E.fwht(jnp.asarray(X))), X @ hadamard(d) / np.sqrt(d),
                               atol=tolerance(np.float64, 1.0))
    k = max(1, d // 2)
    J = E.projection("hadamard", k, d, np.random.default_rng(1))
    rows, signs = E.srht_parts(k, d, np.random.default_rng(1))
    np.testing.assert_allclose(np.asarray(E.srht_apply(jnp.asarray(X), rows, signs)), X @ J.T,
                               atol=tolerance(np.float64, 1.0))


def test_steps_to_eps_and_late_slope():
    loss = 10.0 * 0.9 ** np.arange(200)
    assert E.steps_to_eps(loss, 1e-3) == (int(np.ceil(np.log(1e-3) / np.log(0.9))), True)
    assert E.steps_to_eps(loss, 1e-30) == (200, False)
    np.testing.assert_allclose(E.late_slope(loss), np.log(0.9), rtol=1e-10)
    assert np.isnan(E.late_slope(loss[:5]))


def test_gd_to_eps_stops_at_the_first_step_below_eps(X):
    """The while-loop run freezes each seed at the first step with L_t <= eps L_0: the same step as
    the fixed-length scan's curve, and a seed that never gets there is censored at the budget."""
    from ntkrepro.optimize import gradient_descent

    y = np.sign(np.random.default_rng(1).normal(size=len(X)))
    r = E.run_to_eps(X, y, 64, 0.1, 1e-2, 400, 2, 3)
    W0, A = E.seed_inits(64, X.shape[1], 2, 3)
    for s in range(2):
        L0 = float(E.du_loss(jnp.asarray(W0[s]), jnp.asarray(A[s]), jnp.asarray(X), jnp.asarray(y)))
        _, losses = gradient_descent(E.du_loss, jnp.asarray(W0[s]), 0.1, 400, jnp.asarray(A[s]), jnp.asarray(X),
                                     jnp.asarray(y))
        assert r["steps"][s] == E.steps_to_eps(np.concatenate([[L0], np.asarray(losses)]), 1e-2)[0]
    short = E.run_to_eps(X, y, 64, 0.1, 1e-2, 3, 2, 3)
    assert short["reached"] == [False, False] and short["steps"] == [3, 3]
    assert E.log_ratio_interval(short, r)["censored"] is True


def test_log_ratio_interval_and_dn_growth():
    a = {"reached": [True] * 5, "macs": [2.0, 2.2, 1.8, 2.1, 1.9], "n": 5, "budget": 10}
    b = {"reached": [True] * 5, "macs": [1.0] * 5, "n": 5, "budget": 10}
    iv = E.log_ratio_interval(a, b)
    assert iv["ci_low"] < iv["cost_ratio"] < iv["ci_high"] and abs(iv["cost_ratio"] - 2) < 0.05
    pt = lambda f, ok=True, k=4: {"factorized_macs": f, "dense_macs": [1.0] * 5,  # noqa: E731
                                  "factorized_reached": [ok] * 5, "dense_reached": [True] * 5, "budget": 10,
                                  "k": k, "d": 16}
    grew = E.dn_growth({"0.5": pt([4.0, 4.1, 3.9, 4.2, 3.8]), "1": pt([1.0, 1.1, 0.9, 1.05, 0.95])})
    assert grew["ci_low"] > 0
    # censored factorized seeds at the small d/n: a growth the lower bound already shows is gated ...
    c = E.dn_growth({"0.5": pt([4.0, 4.1, 3.9, 4.2, 3.8], ok=False), "1": pt([1.0, 1.1, 0.9, 1.05, 0.95])})
    assert c["censored"] is True and c["value"]["ci_low"] > 0
    # ... one it does not show is not
    c = E.dn_growth({"0.5": pt([1.0, 1.1, 0.9, 1.05, 0.95], ok=False), "1": pt([1.0, 1.1, 0.9, 1.05, 0.95])})
    assert c["censored"] is True and "value" not in c
    assert E.dn_growth({"0.5": pt([4.0] * 5), "1": pt([1.0] * 5, ok=False)})["censored"] is True
    # a small d/n where k = d reduces nothing: it is skipped for the next one with k < d
    skip = E.dn_growth({"0.25": pt([9.0] * 5, k=16), "0.5": pt([4.0, 4.1, 3.9, 4.2, 3.8]),
                        "1": pt([1.0, 1.1, 0.9, 1.05, 0.95])})
    assert skip["d_over_n_low"] == 0.5
    assert "k < d" in E.dn_growth({"0.25": pt([9.0] * 5, k=16), "1": pt([1.0] * 5)})["why"]


def test_dn_peak_skips_points_where_k_equals_d():
    row = lambda r, k: {"cost_ratio": r, "k": k, "d": 16}  # noqa: E731
    peak = E.dn_peak({"0.25": row(1.9, 16), "0.5": row(2.3, 8), "1": row(2.2, 4), "2": row(2.25, 2)})
    assert peak["argmin_d_over_n"] == 1.0 and "0.25" not in peak["ratios"]
    assert peak["keeps_falling_past_d_eq_n"] is False
    assert E.dn_peak({"0.25": row(1.9, 16)})["argmin_d_over_n"] is None


def test_every_form_of_a_censorable_value_parses_into_the_metrics_type():
    """dn_growth's three forms (interval; censored with why; censored with the bound interval) and
    at_own_m_star's three (uncensored; m* censored above the grid; a seed at m* short of eps) parse into
    their typed rows and serialise back to the same JSON, keys in the same order."""
    from ntkrepro.claims.factorized_ntk.metrics import AtRequiredWidth, Growth
    from ntkrepro.io import to_jsonable

    pt = lambda f, ok=True, k=4: {"factorized_macs": f, "dense_macs": [1.0] * 5,  # noqa: E731
                                  "factorized_reached": [ok] * 5, "dense_reached": [True] * 5, "budget": 10,
                                  "k": k, "d": 16}
    grow = [E.dn_growth({"0.5": pt([4.0, 4.1, 3.9, 4.2, 3.8]), "1": pt([1.0, 1.1, 0.9, 1.05, 0.95])}),
            E.dn_growth({"0.5": pt([4.0, 4.1, 3.9, 4.2, 3.8], ok=False), "1": pt([1.0, 1.1, 0.9, 1.05, 0.95])}),
            E.dn_growth({"0.5": pt([4.0] * 5), "1": pt([1.0] * 5, ok=False)})]
    run = lambda macs, reached: {"m": 64, "macs": macs, "reached": reached, "n": 3, "budget": 10}  # noqa: E731
    req = {"dense": {"m_star": 64, "_run": run([1.0, 1.1, 0.9], [True] * 3)},
           "16": {"m_star": 128, "_run": run([2.0, 2.1, 1.9], [True] * 3)},
           "32": {"m_star": None},
           "64": {"m_star": 64, "_run": run([2.0, 2.1, 1.9], [True, False, True])}}
    at = E.at_own_m_star(req)
    assert at["32"]["censored"] == {"m_star_dense": 64, "m_star_factorized": None}
    assert at["64"]["censored"]["censored"] is True
    for tp, rows in ((Growth, grow), (AtRequiredWidth, list(at.values()))):
        for row in rows:
            js = to_jsonable(row)
            assert list(tp.from_json(js).to_json().items()) == list(js.items())


def test_each_seed_draws_its_own_j():
    """J_s depends only on (base, seed, k): two seeds differ, the same seed gives the same J whatever the
    number of seeds or the order of the calls, and another k (or base) gives another draw."""
    Js = E.seed_projections(8, 32, 3, base=7)
    assert Js.shape == (3, 8, 32)
    assert not np.allclose(Js[0], Js[1]) and not np.allclose(Js[1], Js[2])
    np.testing.assert_array_equal(E.seed_projections(8, 32, 5, base=7)[:3], Js)
    np.testing.assert_array_equal(E.seed_projections(8, 32, 2, base=7), Js[:2])
    assert not np.allclose(E.seed_projections(8, 32, 1, base=8)[0], Js[0])
    other_k = E.seed_projections(16, 32, 1, base=7)[0]
    assert not np.allclose(other_k[:8], Js[0])
    # the J stream is apart from the initializations' stream of the same base
    W0, _ = E.seed_inits(8, 32, 3, 7)
    assert not any(np.allclose(W0[s] / np.sqrt(8), Js[s]) for s in range(3))


def test_project_per_seed(X):
    Zs = E.project_per_seed(X, 4, 3, base=1)
    assert Zs.shape == (3, len(X), 4)
    np.testing.assert_allclose(np.linalg.norm(Zs, axis=-1), 1.0, atol=tolerance(np.float64, 1.0))
    for s, J in enumerate(E.seed_projections(4, X.shape[1], 3, base=1)):
        np.testing.assert_array_equal(Zs[s], E.project(X, J))


def test_run_to_eps_per_seed_inputs(X):
    """A stack of identical Z_s gives the shared-Z run; distinct Z_s give each seed its own premise."""
    y = np.sign(np.random.default_rng(1).normal(size=len(X)))
    shared = E.run_to_eps(X, y, 64, 0.1, 1e-2, 200, 2, 3)
    stacked = E.run_to_eps(np.stack([X, X]), y, 64, 0.1, 1e-2, 200, 2, 3)
    assert stacked["steps"] == shared["steps"] and stacked["in_premise"] == shared["in_premise"]
    np.testing.assert_allclose(stacked["premise"], [shared["premise"]] * 2)
    Zs = E.project_per_seed(X, 8, 2, base=5)
    r = E.run_to_eps(Zs, y, 64, 0.1, 1e-2, 200, 2, 3, d=X.shape[1])
    assert len(r["premise"]) == 2 and r["premise"][0] != r["premise"][1]
    np.testing.assert_allclose(r["premise"], [E.lambda_min(E.h_inf(Z)) / 4 for Z in Zs])
    one = E.run_to_eps(Zs[1], y, 64, 0.1, 1e-2, 200, 2, 3, d=X.shape[1])  # seed 1 alone on Z_1
    assert r["steps"][1] == one["steps"][1] and r["macs"][1] == one["macs"][1]


def test_required_width_with_per_seed_j(X):
    y = np.sign(np.random.default_rng(1).normal(size=len(X)))
    Zs = {"dense": X, "8": E.project_per_seed(X, 8, 3, base=2)}
    req = E.required_width(Zs, y, [16, 64, 256], X.shape[1], 0.1, 1e-2, 300, 3, 2, 4)
    assert req["dense"]["j_draws"] == "none" and req["8"]["j_draws"] == "one per seed"
    for v in req.values():
        assert all(isinstance(t["premise"], float) for t in v["tried"].values())
    ec = E.equal_compute(Zs, y, 64, X.shape[1], 0.1, 1e-2, 300, 3, 4)
    assert ec["8"]["j_draws"] == "one per seed" and ec["8"]["n_seeds"] == 3
