"""Neural tangent transfer: masks, the zero-gradient property, and the NTT loss by hand."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkrepro.claims.ntt import masks as M
from ntkrepro.claims.ntt import science as E


@pytest.fixture(scope="module")
def net():
    init_fn, apply_fn = E.mlp((12, 8), out_dim=3)
    params = E.init_params(init_fn, jax.random.PRNGKey(0), 5)
    x = jax.random.normal(jax.random.PRNGKey(1), (6, 5), jnp.float32)
    return init_fn, apply_fn, params, x


@pytest.mark.parametrize("density", [0.5, 0.1, 0.02])
def test_masks_keep_exact_counts_and_skip_biases(net, density):
    _, apply_fn, params, x = net
    y = jnp.array([0, 1, 2, 0, 1, 2])
    ones = jax.tree_util.tree_map(jnp.ones_like, params)
    for m in (M.magnitude_masks(params, density), M.random_masks(params, density, jax.random.PRNGKey(2)),
              M.saliency_masks(params, lambda p: E.cross_entropy(p, ones, x, y, apply_fn), density)):
        assert M.layer_count_errors(m, density) == [0, 0, 0]
        assert all(np.all(np.asarray(b) == 1) for b in jax.tree_util.tree_leaves(m) if b.ndim == 1)


def test_magnitude_mask_keeps_the_largest(net):
    _, _, params, _ = net
    W = np.asarray(params[0][0])
    m = np.asarray(M.magnitude_masks(params, 0.25)[0][0])
    assert np.abs(W[m == 1]).min() >= np.abs(W[m == 0]).max()


def test_saliency_is_abs_grad_times_weight(net):
    _, apply_fn, params, x = net
    obj = lambda p: jnp.sum(apply_fn(p, x) ** 2)  # noqa: E731  (logit-SNIP)
    g = jax.grad(obj)(params)
    s = np.abs(np.asarray(g[0][0]) * np.asarray(params[0][0]))
    m = np.asarray(M.saliency_masks(params, obj, 0.2)[0][0])
    assert s[m == 1].min() >= s[m == 0].max()


def test_pruned_weights_get_exactly_zero_gradient(net):
    _, apply_fn, params, x = net
    masks = M.magnitude_masks(params, 0.1)
    teacher = jax.tree_util.tree_map(lambda a: a * 1.1, params)
    g = jax.grad(lambda p: E.ntt_loss(p, masks, teacher, x, apply_fn, 1e-3, 1e-4, 0.1)[0])(params)
    for gi, mi in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(masks)):
        assert np.all(np.asarray(gi)[np.asarray(mi) == 0] == 0.0)


def test_ntt_loss_matches_hand_computation(net):
    """lambda_K mean((Theta_s - Theta_t)^2) over the full (n1, n2, K, K) cross-kernel + mean((f_s-f_t)^2)
    + lambda_2/d |m*W|^2, with the NTK built by hand from jacobians."""
    _, apply_fn, params, x = net
    masks = M.magnitude_masks(params, 0.3)
    teacher = jax.tree_util.tree_map(lambda a: a * 0.9 + 0.01, params)

    def ntk(p, a, b):
        ja = jax.jacrev(lambda q: apply_fn(q, a))(p)
        jb = jax.jacrev(lambda q: apply_fn(q, b))(p)
        flat = lambda j, n: jnp.concatenate([l.reshape(n, 3, -1) for l in jax.tree_util.tree_leaves(j)], -1)  # noqa: E731
        return jnp.einsum("ikp,jlp->ijkl", flat(ja, a.shape[0]), flat(jb, b.shape[0]))

    sp = M.apply_masks(params, masks)
    ker = jnp.mean((ntk(sp, x[:3], x[3:]) - ntk(teacher, x[:3], x[3:])) ** 2)
    out = jnp.mean((apply_fn(sp, x) - apply_fn(teacher, x)) ** 2)
    l2 = sum(jnp.sum(w**2) for w in jax.tree_util.tree_leaves(sp) if w.ndim == 2)
    expected = 1e-3 * ker + out + 1e-4 / 0.3 * l2
    loss, (k_got, o_got, l2_got) = E.ntt_loss(params, masks, teacher, x, apply_fn, 1e-3, 1e-4, 0.3)
    np.testing.assert_allclose([loss, k_got, o_got, l2_got], [expected, ker, out, l2], rtol=1e-5)


def test_ntt_run_keeps_density_and_reduces_kernel_distance(net):
    _, apply_fn, params, _ = net
    pool = jax.random.normal(jax.random.PRNGKey(3), (64, 5), jnp.float32)
    teachers = jax.tree_util.tree_map(lambda a: a[None], params)
    student, masks, log, info = E.ntt_seeds(teachers, pool, pool[:16], jax.random.PRNGKey(4)[None], apply_fn, 0.3,
                                            60, 16, 20, 1e-2, 1e-4, 1e-2)
    assert info["steps_run"] == 60 and log.shape[1] == 60
    m0 = jax.tree_util.tree_map(lambda a: a[0], masks)
    assert M.layer_count_errors(m0, 0.3) == [0, 0, 0]
    assert M.pruned_nonzero(jax.tree_util.tree_map(lambda a: a[0], student), m0) == 0
    log = np.asarray(log[0])
    assert log[-10:, 0].mean() < log[:10, 0].mean()


def test_connectivity_counts_paths():
    import jax.numpy as jnp

    full = [jnp.ones((3, 4)), jnp.ones(4), jnp.ones((4, 2)), jnp.ones(2)]
    assert M.connectivity(full) == {"disconnected_classes": 0, "units_reaching_output": 4}
    cut = [jnp.ones((3, 4)), jnp.ones(4), jnp.asarray([[1.0, 0], [0, 0], [0, 0], [0, 0]]), jnp.ones(2)]
    assert M.connectivity(cut) == {"disconnected_classes": 1, "units_reaching_output": 1}


def test_plateau_rule_stops_after_patience_epochs_without_progress():
    from ntkrepro.claims.ntt.science import plateau_epoch

    v = np.concatenate([np.linspace(2.0, 1.0, 11), np.full(20, 1.0)])  # falls for 10 epochs, then flat
    stop, chosen = plateau_epoch(v, patience=5, rtol=0.01)
    assert stop == 15 and chosen == 10
    still = np.linspace(2.0, 1.0, 30)  # always improving by more than 1 %: never plateaus
    assert plateau_epoch(still, patience=5, rtol=0.001) == (None, 29)
    bump = np.concatenate([np.linspace(2.0, 1.0, 11), np.full(8, 1.5)])  # worse after the minimum
    assert plateau_epoch(bump, patience=5, rtol=0.01)[1] == 10


def test_global_snip_keeps_exactly_k_weights_over_all_layers():
    import jax
    import jax.numpy as jnp

    from ntkrepro.claims.ntt import masks as M

    params = {"a": jnp.arange(12.0).reshape(3, 4), "b": jnp.ones(3), "c": 100 + jnp.arange(6.0).reshape(2, 3)}
    m = M.saliency_masks_global(params, lambda p: sum(jnp.sum(x) for x in jax.tree_util.tree_leaves(p)), 0.25)
    assert M.total_count_error(m, 0.25) == 0
    assert float(m["c"].sum()) == 4.0 and float(m["a"].sum()) == 0.0  # the big weights win globally
    assert np.all(np.asarray(m["b"]) == 1)


def test_full_profile_runs_the_fairness_minimum_and_reports_the_power():
    from ntkrepro.claims.ntt.claim import PARAMS, POWER

    assert PARAMS.profiles["full"]["seeds"] == POWER["seeds_run"] >= 5
    # density 2 % only in the full profile, for its 10-minute budget (3 % and 1 %: -p densities)
    assert PARAMS.profiles["full"]["dataset"] == "mnist5k" and PARAMS.profiles["full"]["densities"] == [0.02]


@pytest.mark.parametrize("density", [0.3, 0.05])
def test_global_masks_keep_exactly_k_over_all_layers(net, density):
    _, apply_fn, params, x = net
    for m in (M.magnitude_masks_global(params, density), M.random_masks_global(params, density, jax.random.PRNGKey(5)),
              M.saliency_masks_global(params, lambda p: jnp.sum(apply_fn(p, x) ** 2), density)):
        assert M.total_count_error(m, density) == 0
        assert all(np.all(np.asarray(b) == 1) for b in jax.tree_util.tree_leaves(m) if b.ndim == 1)
    W = np.concatenate([np.abs(np.asarray(w)).ravel() for w in jax.tree_util.tree_leaves(params) if w.ndim == 2])
    K = np.concatenate([np.asarray(w).ravel() for w in jax.tree_util.tree_leaves(M.magnitude_masks_global(params, density))
                        if w.ndim == 2])
    assert W[K == 1].min() >= W[K == 0].max()


def test_global_ntt_keeps_the_global_count_and_stops_at_its_plateau(net):
    _, apply_fn, params, _ = net
    pool = jax.random.normal(jax.random.PRNGKey(3), (64, 5), jnp.float32)
    teachers = jax.tree_util.tree_map(lambda a: a[None], params)
    # a huge rtol: the first check after `patience` periods finds the plateau, so NTT stops before its budget
    student, masks, log, info = E.ntt_seeds(teachers, pool, pool[:16], jax.random.PRNGKey(4)[None], apply_fn, 0.3,
                                            400, 16, 10, 1e-2, 1e-4, 1e-2, patience=2, rtol=0.9, global_alloc=True,
                                            chunk_periods=5)
    assert info["steps_run"] == 50 and info["plateau_step"] == [30]
    # checked after every period (the default), the run ends at the plateau itself, with the same plateau step
    *_, info1 = E.ntt_seeds(teachers, pool, pool[:16], jax.random.PRNGKey(4)[None], apply_fn, 0.3, 400, 16, 10,
                            1e-2, 1e-4, 1e-2, patience=2, rtol=0.9, global_alloc=True)
    assert info1["steps_run"] == 30 and info1["plateau_step"] == [30]
    m0 = jax.tree_util.tree_map(lambda a: a[0], masks)
    assert M.total_count_error(m0, 0.3) == 0


def test_comparisons_are_like_for_like():
    pairs = E.comparisons(["ntt", "snip", "random", "ntt_global", "snip_global", "random_global", "ntt_no_kernel"])
    assert pairs["ntt_vs_snip_layerwise"] == ("ntt", "snip")
    assert pairs["ntt_vs_snip_global"] == ("ntt_global", "snip_global")
    assert pairs["ntt_vs_ntt_no_kernel_layerwise"] == ("ntt", "ntt_no_kernel")
    assert all(E.allocation(a) == E.allocation(b) for a, b in pairs.values())


def test_chunked_training_equals_one_long_run_and_stops_only_when_every_seed_plateaued():
    import jax
    import jax.numpy as jnp

    from ntkrepro.claims.ntt import science as E

    init_fn, apply_fn = E.mlp((8,), out_dim=3)
    keys = [jax.random.PRNGKey(i) for i in range(2)]
    p0 = E._stack([E.init_params(init_fn, k, 4) for k in keys])
    masks = jax.tree_util.tree_map(jnp.ones_like, p0)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(32, 4)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 3, 32))
    args = (x, y, x[:8], y[:8], x[:8], y[:8], apply_fn, 8, 1e-2)
    tk = jnp.stack(keys)
    long = E.train_seeds(p0, masks, tk, *args[:6], apply_fn, 12, 8, 1e-2, chunk=12)
    short = E.train_seeds(p0, masks, tk, *args[:6], apply_fn, 12, 8, 1e-2, chunk=5)
    for a, b in zip(long[1:], short[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    stopped = E.train_seeds(p0, masks, tk, *args[:6], apply_fn, 40, 8, 1e-2, patience=2, rtol=0.5, chunk=4)
    assert stopped[2].shape[1] < 40  # a huge rtol: every seed plateaus at once, training stops early
    assert all(E.plateau_epoch(v, 2, 0.5)[0] is not None for v in stopped[2])


@pytest.fixture(scope="module")
def tiny_run():
    """Real metrics from a tiny run of the whole protocol (digits, a 16-8 MLP, 5 seeds, 2 densities, every
    method): the committed record predates the issue-30 checks, so their overrides are tested here."""
    from types import SimpleNamespace

    from ntkrepro.claims.ntt.claim import POWER
    from ntkrepro.data import load_split

    P = SimpleNamespace(profile="full", seed=0, dataset="digits", n_train=300, n_test=100, n_val=64,
                        densities=[0.3, 0.2], seeds=5, methods=list(E.METHODS), ntt_steps=20, ntt_patience=1,
                        lambda_ker=1e-3, lambda_l2=1e-4, lr_ntt=5e-3, batch_size=16, mask_every=10, epochs=4,
                        lr_train=1e-2, lr_grid=[1e-2, 3e-2], patience=1, plateau_rtol=0.01, hidden=[16, 8], n_ntk_eval=16,
                        snip_examples=50)
    split = load_split(P.dataset, P.n_train, P.n_test, P.seed)
    metrics = E.collect(E.experiment(P, split), P.densities, P.methods, dataset=P.dataset, seed=P.seed, lr=P.lr_train,
                        batch_size=P.batch_size, epochs=P.epochs, patience=P.patience, plateau_rtol=P.plateau_rtol,
                        ntt_steps=P.ntt_steps, lr_grid=P.lr_grid, power=POWER)
    return metrics, dict(vars(P))


def test_every_check_passes_and_fails_on_real_metrics(tiny_run):
    from ntkrepro.claims.ntt.claim import CLAIM
    from ntkrepro.ledger import apply_overrides, evaluate_check

    metrics, params = tiny_run
    record = metrics.to_json()  # the overrides act on the JSON mapping; evaluate_check parses it (claim=CLAIM)
    for spec in CLAIM.checks:
        good = evaluate_check(spec, apply_overrides(record, spec.passes_with), params, CLAIM)
        bad = evaluate_check(spec, apply_overrides(record, spec.fails_with), params, CLAIM)
        assert good["outcome"] == "pass", (spec.name, good["value"])
        assert bad["outcome"] == "fail", (spec.name, bad["value"])
        plain = evaluate_check(spec, metrics, params, CLAIM)
        assert plain["outcome"] in ("pass", "fail", "inconclusive"), (spec.name, plain)


def test_results_carry_the_issue_30_names(tiny_run):
    metrics, params = tiny_run
    rows = metrics.per_run
    assert {r.allocation for r in rows} == {"layerwise", "global"}
    assert all(r.rel_ntk_error is not None and r.rel_ntk_error_masked is not None for r in rows)
    assert all(r.ntt_steps_run == 20 for r in rows if r.method in E.NTT_FAMILY)
    assert {"ntt_vs_snip_global", "ntt_vs_snip_layerwise", "ntt_vs_logit_snip_layerwise"} <= set(metrics.paired_accuracy)
    assert metrics.fresh_value_ablation and metrics.mask_diagnostics and metrics.interval_method
    assert metrics.training.optimizer == "adam" and metrics.training.lr == params["lr_train"]
    assert metrics.label_permutation_masks_identical is True
    # global masks keep the total count, layerwise each layer's
    assert max(max(r.layer_count_errors) for r in rows) == 0
    assert sum(r.pruned_weights_nonzero_after_training for r in rows) == 0


def test_tuned_rates_are_a_labelled_sensitivity_analysis(tiny_run):
    metrics, params = tiny_run
    sens = metrics.sensitivity_tuned_rates
    assert "not the verdict's basis" in sens.label and sens.lr_grid == [1e-2, 3e-2]
    row = sens.by_density["0.2"]["ntt_vs_snip_layerwise"]
    assert set(row.lr) <= {1e-2, 3e-2}
    # the verdict's intervals come from the common rate
    assert all(r.lr == params["lr_train"] for r in metrics.per_run)


def test_figures_one_look_per_method_and_ntt_on_top():
    """Every method has one colour and marker in every figure (both allocations), distinct methods have
    distinct colours, and NTT is drawn on top where a baseline coincides with it (reviewer, figures)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    from ntkrepro.claims.ntt import figures as F
    from ntkrepro.claims.ntt.claim import METHODS, base_method

    bases = list(dict.fromkeys(base_method(m) for m in METHODS))
    assert len({to_hex(F.style(b)["color"]) for b in bases}) == len(bases)
    for m in METHODS:
        assert F.style(m)["color"] == F.style(base_method(m))["color"]
        assert F.style(m)["marker"] == F.style(base_method(m))["marker"]
    runs = [{"method": m, "density": 0.02, "seed": s, "test_accuracy": 0.9}  # NTT and SNIP coincide
            for m in ("ntt", "snip", "ntt_global", "snip_global") for s in (0, 1)]
    fig = F.accuracy_vs_density(runs, 0.95)
    for ax in fig.axes:
        lines = {c.get_label(): c.lines[0] for c in ax.containers}  # errorbar: (data line, caps, bars)
        ntt, snip = lines["NTT"], lines["SNIP"]
        assert to_hex(ntt.get_color()) == to_hex(F.style("ntt")["color"])
        assert ntt.get_zorder() > snip.get_zorder()
        assert ntt.get_xdata()[0] != snip.get_xdata()[0]  # dodged
    plt.close(fig)
