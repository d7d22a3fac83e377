"""X1 (issue 29 item 7): the layer-wise scaled L2 of a standard-parameterization network, the declared rate rule
(a stability margin of one grid step), the study at a tiny size (every key, grids and choices consistent, the
interval from paired_bootstrap, a control that ties), and X1's checks and choices in the ledger (each able to pass
and to fail, a missing section not run, old records still parsing)."""
import jax
import numpy as np
import pytest

from ntkrepro.claims.finite_vs_infinite import l2scaling as X

W_STD, B_STD = 2 ** 0.5, 0.1

TINY_LRS, TINY_PLAIN, TINY_SCALED = [0.01, 0.03, 0.1, 0.3], [1e-4, 1e-3, 1e-2], [1e-6, 1e-5, 1e-4]
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


# ----------------------------------------------------------------------------- the rate rule
def _pattern(edges, n_lr):
    """(lambdas, lrs) finite pattern: at lambda i the rates from index edges[i] + 1 on diverge (None: none)."""
    return np.array([[e is None or j <= e for j in range(n_lr)] for e in edges])


def test_rate_rule_keeps_one_step_below_each_lambdas_edge():
    """Validation accuracy rising with the rate up to divergence (the trap the margin avoids): the best cell sits at
    an edge, and the rule takes the best one grid step below its own lambda's edge instead."""
    n_lr = 5
    val = np.array([[0.80, 0.84, 0.88, 0.95, 0.10],   # lambda 0: edge at index 3 (rate 4 diverges)
                    [0.81, 0.86, 0.93, 0.10, 0.10],   # lambda 1: edge at index 2
                    [0.70, 0.72, 0.74, 0.76, 0.78]])  # lambda 2: no rate diverges (edge at the top, not located)
    fin = _pattern([3, 2, None], n_lr)
    r = X.rate_rule(val, fin)
    assert r["edge"] == [3, 2, 4] and r["located"] == [True, True, False]
    assert r["eligible"].tolist() == [[True, True, True, False, False], [True, True, False, False, False],
                                      [True, True, True, True, False]]
    assert r["choice"] == (0, 2)  # 0.88: the edge cells 0.95 (lambda 0) and 0.93 (lambda 1) are excluded


def test_rate_rule_never_picks_within_one_step_of_the_edge():
    """Random validation grids and monotone divergence patterns: the choice is always finite on every seed, at least
    one grid step below its lambda's edge, and the best such cell (ties: larger lambda, then smaller rate)."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        n_lam, n_lr = rng.integers(1, 5), rng.integers(3, 7)
        edges = [None if e == n_lr - 1 else int(e) for e in rng.integers(-1, n_lr, n_lam)]  # -1: all diverge
        fin = _pattern(edges, n_lr)
        val = rng.integers(0, 6, (n_lam, n_lr)) / 5  # coarse values: ties happen
        r = X.rate_rule(val, fin)
        ok = [(i, j) for i in range(n_lam) for j in range(n_lr)
              if j <= (n_lr - 1 if edges[i] is None else edges[i]) - 1]
        if not ok:
            assert r["choice"] is None
            continue
        i, j = r["choice"]
        assert (i, j) in ok and fin[i, j] and fin[i, j + 1]
        best = max(val[c] for c in ok)
        assert val[i, j] == best
        assert (i, -j) == max((a, -b) for a, b in ok if val[a, b] == best)


def test_rate_rule_without_an_eligible_rate_chooses_nothing():
    """Every rate unstable, or only the smallest stable (its edge at index 0 leaves nothing one step below): no
    choice, so the arm has no verdict runs and X1's premise x1_lr_grid_spans_stability_edge fails."""
    val = np.full((2, 4), 0.5)
    r = X.rate_rule(val, np.zeros((2, 4), bool))
    assert r["choice"] is None and r["edge"] == [None, None] and r["located"] == [True, True]
    r = X.rate_rule(val, _pattern([0, 0], 4))
    assert r["choice"] is None and r["edge"] == [0, 0]
    with pytest.raises(ValueError, match="same"):
        X.rate_rule(val, np.ones((3, 4), bool))


def test_study_rejects_unordered_rates():
    with pytest.raises(ValueError, match="lrs"):
        X.x1_study([16], [0.03, 0.01, 0.1], TINY_PLAIN, TINY_SCALED, **TINY)


# ----------------------------------------------------------------------------- the study at a tiny size
@pytest.fixture(scope="module")
def tiny():
    return X.x1_study([16, 32], TINY_LRS, TINY_PLAIN, TINY_SCALED, **TINY)


def test_study_keys_grids_and_choices(tiny):
    from ntkrepro.stats import paired_bootstrap

    for k in ("dataset", "n_train", "n_val", "n_test", "depth", "widths", "steps", "architecture", "loss",
              "optimizer", "rate_rule", "per_width"):
        assert k in tiny
    assert tiny["widths"] == [16, 32] and set(tiny["per_width"]) == {"16", "32"}
    assert not set(tiny["tuning_seeds"]) & set(tiny["verdict_seeds"])
    grids = {"plain": TINY_PLAIN, "scaled": TINY_SCALED, "no_l2": [0.0]}
    for row in tiny["per_width"].values():
        for arm in X.ALL_ARMS:
            r = row[arm]
            assert r["lambda_grid"] == grids[arm] and r["lr_grid"] == TINY_LRS
            val = np.array(r["val_accuracy_grid"])
            n_fin = np.array(r["finite_tuning_seeds_grid"])
            assert val.shape == n_fin.shape == (len(grids[arm]), len(TINY_LRS))
            rule = X.rate_rule(val, n_fin == TINY["tuning_seeds"])  # the record's own grids give back its choice
            assert r["edge_located_per_lambda"] == rule["located"]
            if rule["choice"] is None:
                assert r["chosen_lr"] is None and r["verdict_finite"] is None
                continue
            i, j = rule["choice"]
            assert (r["chosen_lambda"], r["chosen_lr"]) == (grids[arm][i], TINY_LRS[j])
            assert r["edge_lr"] == r["edge_lr_per_lambda"][i] and TINY_LRS.index(r["largest_eligible_lr"]) == \
                TINY_LRS.index(r["edge_lr"]) - 1 >= j
            assert len(r["accuracy_per_seed"]) == TINY["n_seeds"] == len(r["stop_steps"]) == len(r["verdict_finite"])
            assert all(0 < s <= TINY["steps"] and s % TINY["eval_every"] == 0 for s in r["stop_steps"])
            assert np.isclose(r["accuracy_mean"], np.mean(r["accuracy_per_seed"]))
            assert np.allclose(np.mean(row["_correct"][arm], 1), r["accuracy_per_seed"])
        if row["advantage"] is not None:
            adv = paired_bootstrap(np.array(row["_correct"]["scaled"]), np.array(row["_correct"]["plain"]), seed=0)
            for k in ("mean_diff", "ci_low", "ci_high", "n", "se", "mde", "n_test", "method", "se_seeds",
                      "se_points"):
                assert row["advantage"][k] == adv[k]
            assert row["advantage"]["n"] == TINY["n_seeds"] and row["advantage"]["n_test"] == TINY["n_test"]


def test_study_parses_as_the_typed_section(tiny):
    """What collect stores (the study with its private arrays dropped) is the typed X1 section."""
    from ntkrepro.claims.finite_vs_infinite.metrics import LayerwiseL2
    from ntkrepro.io import drop_private, to_jsonable

    m = LayerwiseL2.from_json(to_jsonable(drop_private(tiny)))
    assert m.per_width["16"].plain.lr_grid == TINY_LRS and m.rate_rule == X.RATE_RULE


def test_a_diverging_rate_is_detected():
    """A rate far beyond the edge makes every run non-finite, which the rule sees (that lambda's edge below it)."""
    from ntkrepro.data import load_split

    s = load_split("digits", 60, 20, 0)
    data = {"x": s.x_train[:40], "y": s.y_train[:40], "xv": s.x_train[40:], "lv": s.labels_train[40:],
            "xt": s.x_test, "lt": s.labels_test}
    cells = [(1e-3, 0.0, False, 0), (50.0, 0.0, False, 0)]
    _, _, _, ok = X.train_cells(cells, 16, 1, data, 20, 10, 20, W_STD, B_STD, False)
    assert ok.tolist() == [True, False]


def test_control_scaled_arm_replaced_by_plain_ties():
    """The 'scaled' arm given the plain penalty and grid: the two arms are the same runs, the interval is 0."""
    r = X.x1_study([16], TINY_LRS, TINY_PLAIN, TINY_SCALED, scaled_penalty=False, **TINY)["per_width"]["16"]
    assert (r["scaled"]["chosen_lambda"], r["scaled"]["chosen_lr"]) == (r["plain"]["chosen_lambda"],
                                                                         r["plain"]["chosen_lr"])
    assert r["advantage"]["mean_diff"] == 0.0
    assert r["advantage"]["ci_low"] <= 0.0 <= r["advantage"]["ci_high"]


# ----------------------------------------------------------------------------- X1 in the ledger
X1_CHECKS = ["layerwise_l2_improves_wide", "x1_lr_grid_spans_stability_edge", "x1_verdict_runs_finite"]
LRS = [0.003, 0.006, 0.012, 0.024, 0.048]


def _arm(lams, lam, lr=0.006, finite=(True,) * 5):
    return {"lambda_grid": lams, "lr_grid": LRS, "val_accuracy_grid": [[0.9] * 5 for _ in lams],
            "finite_tuning_seeds_grid": [[3, 3, 3, 0, 0] for _ in lams], "edge_lr_per_lambda": [0.012] * len(lams),
            "edge_located_per_lambda": [True] * len(lams), "edge_lr": 0.012, "edge_located": True,
            "largest_eligible_lr": 0.006, "chosen_lambda": lam, "chosen_lr": lr, "val_accuracy": 0.9,
            "accuracy_per_seed": [0.9] * 5, "accuracy_mean": 0.9, "stop_steps": [400] * 5,
            "verdict_val_accuracy": [0.9] * 5, "verdict_finite": list(finite)}


def _iv(lo, hi):
    return {"mean_diff": (lo + hi) / 2, "ci_low": lo, "ci_high": hi, "n": 5, "se": 0.01, "mde": 0.03, "n_test": 997,
            "method": "paired bootstrap", "se_seeds": 0.008, "se_points": 0.005}


PLAIN, SCALED = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0], [1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2]


def _section(lo=0.005, hi=0.04, narrow=(-0.01, 0.03)):
    width = lambda iv: {"plain": _arm(PLAIN, 1e-3), "scaled": _arm(SCALED, 1e-5), "no_l2": _arm([0.0], 0.0),  # noqa
                        "advantage": iv}
    return {"dataset": "digits", "n_train": 500, "n_val": 300, "n_test": 997, "depth": 2, "widths": [128, 512],
            "steps": 800, "eval_every": 20, "batch": 50, "tuning_seeds": [0, 1, 2],
            "verdict_seeds": [100, 101, 102, 103, 104], "scaled_penalty": True, "architecture": "x", "loss": "mse",
            "optimizer": "sgd", "penalties": {"plain": "p", "scaled": "s"}, "rate_rule": X.RATE_RULE,
            "per_width": {"128": width(_iv(*narrow)), "512": width(_iv(lo, hi))}}


def _record(**kw):
    """The committed full record with a synthetic X1 section attached, and X1's parameters."""
    from ntkrepro import CLAIMS
    from ntkrepro.io import read_json

    res = read_json(CLAIMS["finite_vs_infinite"].default_output_dir("full") / "results.json")
    params = {**res["parameters"], "x1_lrs": LRS, "x1_plain_lambdas": PLAIN, "x1_scaled_lambdas": SCALED,
              "x1_widths": [128, 512]}
    return {**res["metrics"], "layerwise_l2": _section(**kw)}, params


def _claim():
    from ntkrepro import CLAIMS

    return CLAIMS["finite_vs_infinite"]


@pytest.mark.parametrize("check", X1_CHECKS)
def test_x1_check_passes_and_fails(check):
    from ntkrepro.ledger import apply_overrides, evaluate_check

    claim = _claim()
    spec = next(s for s in claim.checks if s.name == check)
    assert not spec.smoke_must_pass and spec.finding == "X1"
    metrics, params = _record(lo=-0.01, hi=0.02)
    good = evaluate_check(spec, apply_overrides(metrics, spec.passes_with), params, claim)
    bad = evaluate_check(spec, apply_overrides(metrics, spec.fails_with), params, claim)
    assert good["outcome"] == "pass", good
    assert bad["outcome"] == "fail", bad


@pytest.mark.parametrize("lo,hi,outcome,verdict", [(0.002, 0.03, "pass", "reproduced"),
                                                   (-0.03, 0.008, "fail", "not reproduced"),
                                                   (-0.005, 0.02, "inconclusive", "inconclusive")])
def test_x1_gate_reads_the_wide_interval(lo, hi, outcome, verdict):
    """Above 0 reproduces, wholly below the effect of interest +0.01 fails, a straddle is inconclusive; the narrow
    width (here always straddling) is not gated."""
    from ntkrepro.ledger import conclude

    metrics, params = _record(lo=lo, hi=hi, narrow=(-0.05, -0.02))
    out = conclude(_claim(), metrics, params)
    rows = {r["name"]: r for r in out["checks"]}
    assert rows["layerwise_l2_improves_wide"]["outcome"] == outcome
    assert rows["x1_lr_grid_spans_stability_edge"]["outcome"] == "pass"
    assert rows["x1_verdict_runs_finite"]["outcome"] == "pass"
    x1 = [c for c in out["choices"] if "X1" in c["findings"]]
    assert len(x1) == 8 and not any(c["at_edge"] for c in x1)
    assert next(f for f in out["findings"] if f["id"] == "X1")["verdict"] == verdict


def _with_arm(metrics, width, arm, **fields):
    sec = metrics["layerwise_l2"]
    row = sec["per_width"][width]
    return {**metrics, "layerwise_l2": {**sec, "per_width": {**sec["per_width"],
                                                              width: {**row, arm: {**row[arm], **fields}}}}}


@pytest.mark.parametrize("width,arm,fields,why", [
    ("512", "no_l2", {"verdict_finite": [True, True, True, False, True]}, "x1_verdict_runs_finite"),
    ("128", "plain", {"edge_located": False}, "x1_lr_grid_spans_stability_edge"),
    ("512", "scaled", {"chosen_lr": 0.003}, "at the grid edge"),
    ("128", "plain", {"chosen_lambda": 1.0}, "at the grid edge"),
])
def test_x1_inconclusive_when_the_instrument_fails(width, arm, fields, why):
    """A diverged verdict seed (any arm), an edge not located, or a choice at the edge of its grid makes X1
    inconclusive even with a passing interval."""
    from ntkrepro.ledger import conclude

    metrics, params = _record()
    out = conclude(_claim(), _with_arm(metrics, width, arm, **fields), params)
    f = next(f for f in out["findings"] if f["id"] == "X1")
    assert f["verdict"] == "inconclusive" and why in f["reason"], f


def test_no_choice_leaves_no_interval_and_x1_inconclusive():
    """An arm with no rate below its edge has no verdict runs and its width no interval: the finding check is not run
    and the premises make X1 inconclusive (never a pass or a fail)."""
    from ntkrepro.ledger import conclude

    metrics, params = _record()
    none = {k: None for k in ("edge_lr", "largest_eligible_lr", "chosen_lambda", "chosen_lr", "val_accuracy",
                              "accuracy_per_seed", "accuracy_mean", "stop_steps", "verdict_val_accuracy",
                              "verdict_finite")}
    m = _with_arm(metrics, "512", "scaled", **none, edge_located=False)
    m["layerwise_l2"]["per_width"]["512"]["advantage"] = None
    out = conclude(_claim(), m, params)
    rows = {r["name"]: r["outcome"] for r in out["checks"] if r["finding"] == "X1"}
    assert rows == {"layerwise_l2_improves_wide": "not run", "x1_lr_grid_spans_stability_edge": "fail",
                    "x1_verdict_runs_finite": "not run"}
    assert next(f for f in out["findings"] if f["id"] == "X1")["verdict"] == "inconclusive"


@pytest.mark.parametrize("profile", ["full", "smoke"])
def test_records_without_x1_parse_and_leave_it_not_run(profile):
    """The committed records predate X1's section: they parse (layerwise_l2 None) and X1 is `not run`."""
    from ntkrepro import record
    from ntkrepro.claims.finite_vs_infinite.metrics import FiniteVsInfiniteMetrics
    from ntkrepro.io import read_json
    from ntkrepro.ledger import conclude

    claim = _claim()
    path = record.record_path(claim.id, profile)
    if not path.exists():
        pytest.skip(f"no committed {profile} record")
    res = read_json(path)
    metrics = {k: v for k, v in res["metrics"].items() if k != "layerwise_l2"}
    assert FiniteVsInfiniteMetrics.from_json(metrics).layerwise_l2 is None
    out = conclude(claim, metrics, res["parameters"])
    assert all(r["outcome"] == "not run" for r in out["checks"] if r["finding"] == "X1")
    assert next(f for f in out["findings"] if f["id"] == "X1")["verdict"] == "not run"


def test_interval_rows_include_x1():
    """The intervals figure's X1 rows: the wide width's gated interval and the narrow one's reference; None when the
    section did not run."""
    from ntkrepro.claims.finite_vs_infinite import claim as C
    from ntkrepro.claims.finite_vs_infinite.metrics import FiniteVsInfiniteMetrics

    metrics, _ = _record(lo=0.002, hi=0.03, narrow=(-0.01, 0.02))
    rows = [iv for f, _, iv in C.interval_rows(FiniteVsInfiniteMetrics.from_json(metrics)) if f == "X1"]
    assert [(r["ci_low"], r["ci_high"]) for r in rows] == [(0.002, 0.03), (-0.01, 0.02)]
    bare = {k: v for k, v in metrics.items() if k != "layerwise_l2"}
    assert all(iv is None for f, _, iv in C.interval_rows(FiniteVsInfiniteMetrics.from_json(bare)) if f == "X1")


def test_x1_parameter_rules():
    from ntkrepro import CLAIMS

    claim = CLAIMS["finite_vs_infinite"]
    for bad, match in (({"x1_lrs": [0.01, 0.003, 0.1]}, "x1_lrs"), ({"x1_widths": [64, 16]}, "x1_widths"),
                       ({"x1_n_test": 1600}, "x1_n_train"), ({"x1_eval_every": 30}, "x1_eval_every")):
        with pytest.raises(ValueError, match=match):
            claim.params.resolve({"profile": "smoke", **bad}, claim.default_output_dir)
