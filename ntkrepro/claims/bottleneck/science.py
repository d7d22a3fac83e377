"""Bottleneck acceleration (Littwin et al. 2021, arXiv 2107.00364), reconstructed.

Model (the paper's text was not available): F = f o g, g: R^m -> R^d and f: R^d -> R^k both
infinitely wide ReLU networks in the NTK parameterization, bottleneck width d finite. Each infinite
part is lazy in its own function space, but the bottleneck coordinates z = g(x) move O(1), so the
effective NTK Theta_F = Theta_f(z, z') + J_f(z) Theta_g(x, x') J_f(z')^T evolves (feature learning).
Simulation ("hybrid"): Z is updated by kernel gradient descent with g's exact NTK Theta_g
(neural-tangents), f is a wide random-feature MLP of width ``rf_width`` trained by plain GD.
Loss 0.5 * mean((F - y)^2) over all entries for every model (neural-tangents' convention).
Kernels and closed forms are float64; the simulated training runs in float32 (speed).
"""
from __future__ import annotations

from functools import cached_property, partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ntkrepro.params import Params
from ntkrepro.io import drop_private

SQRT2 = 2**0.5
F32 = jnp.float32


# ----- data -------------------------------------------------------------------------------------
class Task(tuple):
    """``(x, y, x_test, y_test)``; :attr:`g_kernels` (g's kernels on train + test inputs) is computed
    once per task, on first use, and travels with it (no module-level cache)."""

    def __new__(cls, x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray) -> "Task":
        return super().__new__(cls, (x, y, xt, yt))

    @cached_property
    def g_kernels(self) -> tuple[np.ndarray, np.ndarray]:
        return g_kernels(np.concatenate([self[0], self[2]]))


def make_task(target: str, amplitude: float, n_train: int, n_test: int, input_dim: int,
              rng: np.random.Generator) -> Task:
    """x ~ N(0, I_m); single-index targets of the first coordinate, scaled by ``amplitude``:
    quadratic amp (x1^2 - 1)/sqrt 2, linear amp x1, tanh amp tanh(x1)/0.63 (unit variance)."""
    x = rng.normal(size=(n_train + n_test, input_dim))
    u = x[:, 0]
    y = {"quadratic": (u**2 - 1) / SQRT2, "linear": u, "tanh": np.tanh(u) / 0.6278}[target]
    y = amplitude * y[:, None]
    return Task(x[:n_train], y[:n_train], x[n_train:], y[n_train:])


# ----- kernels ----------------------------------------------------------------------------------
def _mlp_layers():
    from neural_tangents import stax

    return [stax.Dense(1, W_std=1.0), stax.Relu(), stax.Dense(1, W_std=SQRT2)]


def g_kernels(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(NNGP, NTK) of g = Dense(W_std=1) + Relu + Dense(W_std=sqrt 2), no biases."""
    from neural_tangents import stax

    k = stax.serial(*_mlp_layers())[2](A, None, ("nngp", "ntk"))
    return np.asarray(k.nngp), np.asarray(k.ntk)


def ntk_kernel_fn():
    """The d -> infinity model: stax.serial(*g, *f), a plain NTK network."""
    from neural_tangents import stax

    return stax.serial(*_mlp_layers(), *_mlp_layers())[2]


def ntk_spectrum(k_train: np.ndarray, k_nngp_train: np.ndarray, y: np.ndarray) -> tuple:
    """Eigenvalues of the NTK and the weights of ``y`` and of the initial-function prior on them."""
    lam, Q = np.linalg.eigh(k_train)
    return lam, ((Q.T @ y) ** 2).sum(1), np.einsum("ij,ik,kj->j", Q, k_nngp_train, Q), y.shape


def ntk_loss_curve(spectrum: tuple, lr: float, steps: np.ndarray) -> np.ndarray:
    """Expected training loss over initialization of the linearized infinite network (NTK):
    f_t - y = e^{-lr t K/(nk)} (f_0 - y) with f_0 ~ GP(0, K_nngp), so
    E L(t) = 0.5/(nk) [ |e^{-At} y|^2 + k tr(e^{-At} K_nngp e^{-At}) ] by eigendecomposition."""
    lam, qy, qk, (n, k) = spectrum
    decay = np.exp(-2 * lr * np.outer(steps, lam) / (n * k))
    return 0.5 * (decay @ qy + k * decay @ qk) / (n * k)


def ntk_test_prediction(k_test_train: np.ndarray, k_train: np.ndarray, y: np.ndarray, lr: float,
                        t: float) -> np.ndarray:
    from ntkrepro.kernels import gd_mean_prediction

    return gd_mean_prediction(k_train, k_test_train, y, t, lr)


# ----- hybrid simulation ------------------------------------------------------------------------
def rf_apply(p: dict, Z: jnp.ndarray) -> jnp.ndarray:
    """Random-feature f: sqrt(2/M) relu(Z W / sqrt d) V, NTK-parameterized (W, V ~ N(0, 1))."""
    M = p["W"].shape[1]
    return jax.nn.relu(Z @ p["W"] / jnp.sqrt(Z.shape[1])) @ p["V"] * jnp.sqrt(2.0 / M)


def _loss(p, Z, Y):
    return 0.5 * jnp.mean((rf_apply(p, Z) - Y) ** 2)


@partial(jax.jit, static_argnames=("steps",))
def hybrid_run(p: dict, Z: jnp.ndarray, S: jnp.ndarray, Y: jnp.ndarray, theta_g: jnp.ndarray,
               lr: float, steps: int) -> tuple[dict, jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """``steps`` of joint GD: f's parameters by their gradient, Z by kernel GD with Theta_g; S
    accumulates dL/dZ (for test points). Returns (p, Z, S, loss before each step)."""
    lr = jnp.asarray(lr, Z.dtype)  # a numpy float64 rate must not promote a float32 run

    def step(state, _):
        p, Z, S = state
        L, (gp, gZ) = jax.value_and_grad(_loss, (0, 1))(p, Z, Y)
        p = jax.tree_util.tree_map(lambda a, b: a - lr * b, p, gp)
        return (p, Z - lr * theta_g @ gZ, S + gZ), L

    (p, Z, S), losses = jax.lax.scan(step, (p, Z, S), None, length=steps)
    return p, Z, S, losses


def init_hybrid(d: int, rf_width: int, k: int, K_g: np.ndarray, rng: np.random.Generator) -> tuple[dict, np.ndarray]:
    """f's random features and the bottleneck Z_0 ~ GP(0, K_g) (train + test rows), d columns."""
    L = np.linalg.cholesky(K_g + 1e-9 * np.trace(K_g) / len(K_g) * np.eye(len(K_g)))
    Z0 = L @ rng.normal(size=(len(K_g), d))
    p = {"W": jnp.asarray(rng.normal(size=(d, rf_width))), "V": jnp.asarray(rng.normal(size=(rf_width, k)))}
    return p, Z0


def effective_ntk(p: dict, Z: jnp.ndarray, theta_g: np.ndarray) -> np.ndarray:
    """Theta_F = J_p J_p^T + (J_z J_z^T) o Theta_g (k = 1) on the rows of Z."""
    import neural_tangents as nt

    jp = np.asarray(nt.empirical_ntk_fn(rf_apply, trace_axes=(), vmap_axes=0,
                                        implementation=nt.NtkImplementation.STRUCTURED_DERIVATIVES)(Z, None, p))
    jz = np.asarray(jax.vmap(jax.grad(lambda z: rf_apply(p, z[None])[0, 0]))(Z))
    return jp.reshape(len(Z), len(Z)) + (jz @ jz.T) * theta_g


def alignment(theta: np.ndarray, y: np.ndarray) -> float:
    """Kernel-target alignment y' Theta y / (|Theta|_F |y|^2)."""
    y = y.reshape(-1)
    return float(y @ theta @ y / (np.linalg.norm(theta) * (y @ y)))


def steps_to(curve: np.ndarray, level: float) -> int | None:
    """First step at which ``curve`` <= level (None when never, or after a divergence)."""
    hit = np.nonzero(np.asarray(curve) <= level)[0]
    return int(hit[0]) if hit.size else None


def simulate(task: Task, d: int, P: Params, lr: float, steps: int, seed: int,
             track_kernel: int = 0) -> dict[str, Any]:
    """One hybrid run: loss curve, test relative MSE, and (optionally) the effective NTK's trace
    and alignment on the first ``track_kernel`` training points at t = 0, steps/3 and the end."""
    x, y, xt, yt = task
    n = len(x)
    rng = np.random.default_rng(seed)
    K_g, T_g = task.g_kernels
    p, Z0 = init_hybrid(d, P.rf_width, y.shape[1], K_g, rng)
    p = jax.tree_util.tree_map(lambda a: a.astype(F32), p)
    Z, Zte0 = jnp.asarray(Z0[:n], F32), Z0[n:]
    Tg = jnp.asarray(T_g[:n, :n], F32)
    S = jnp.zeros_like(Z)
    Y = jnp.asarray(y, F32)
    curve, kern = [], []
    cuts = [steps // 3, steps - steps // 3] if track_kernel else [steps]
    for i, seg in enumerate(cuts):
        if track_kernel:
            m = track_kernel
            th = effective_ntk(p, Z[:m], T_g[:m, :m])
            kern.append({"step": int(sum(cuts[:i])), "trace_over_n": float(np.trace(th) / m),
                         "alignment": alignment(th, y[:m])})
        p, Z, S, losses = hybrid_run(p, Z, S, Y, Tg, lr, seg)
        curve.append(np.asarray(losses))
    curve = np.concatenate(curve + [np.asarray([float(_loss(p, Z, Y))])]).astype(np.float64)
    if track_kernel:
        th = effective_ntk(p, Z[: track_kernel], T_g[: track_kernel, : track_kernel])
        kern.append({"step": steps, "trace_over_n": float(np.trace(th) / track_kernel),
                     "alignment": alignment(th, y[: track_kernel])})
    Zte = Zte0 - lr * T_g[n:, :n] @ np.asarray(S)
    pred = np.asarray(rf_apply(p, jnp.asarray(Zte, F32)), np.float64)
    return {"curve": curve, "test_rel_mse": float(np.mean((pred - yt) ** 2) / np.mean(yt**2)),
            "diverged": bool(not np.all(np.isfinite(curve))), "kernel": kern}


# ----- deep linear mechanism ---------------------------------------------------------------------
@partial(jax.jit, static_argnames=("steps",))
def deep_linear_run(U: jnp.ndarray, V: jnp.ndarray, X: jnp.ndarray, Y: jnp.ndarray, lr: float,
                    steps: int) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """Infinitely wide deep linear net with a bottleneck of width d = U.shape[1] (L1 = L2 = 1, NTK
    parameterization): W = U V, V <- V - lr (1/m) U' grad_W, U <- U - lr (1/d) grad_W V', with
    grad_W of 0.5 mean((W X - Y)^2) (Arora et al. 2018's end-to-end dynamics, unbalanced rates)."""
    m, d = X.shape[0], U.shape[1]
    n = X.shape[1]

    def step(state, _):
        U, V = state
        R = U @ V @ X - Y
        G = R @ X.T / (n * Y.shape[0])
        return (U - lr / d * G @ V.T, V - lr / m * U.T @ G), 0.5 * jnp.mean(R**2)

    (U, V), losses = jax.lax.scan(step, (U, V), None, length=steps)
    return U, V, losses


@partial(jax.jit, static_argnames=("steps",))
def infinite_linear_run(W: jnp.ndarray, X: jnp.ndarray, Y: jnp.ndarray, lr: float, steps: int) -> jnp.ndarray:
    """d -> infinity: W <- W - lr (L/m) grad_W with L = 2 (linear regression, fixed preconditioner)."""
    m, n = X.shape

    def step(W, _):
        R = W @ X - Y
        return W - lr * 2 / m * (R @ X.T / (n * Y.shape[0])), 0.5 * jnp.mean(R**2)

    return jax.lax.scan(step, W, None, length=steps)[1]


def infinite_linear_closed_form(W0: np.ndarray, X: np.ndarray, Y: np.ndarray, lr: float, steps: int) -> np.ndarray:
    """Loss curve of :func:`infinite_linear_run` in closed form: with Sigma = X X'/n and W* the
    least-squares solution, W_t - W* = (W_0 - W*)(I - lr (2/m) Sigma / k)^t."""
    m, n = X.shape
    k = Y.shape[0]
    Sig = X @ X.T / n
    Wstar = np.linalg.solve(Sig, (Y @ X.T / n).T).T
    lam, Q = np.linalg.eigh(Sig)
    E0 = (W0 - Wstar) @ Q
    resid = 0.5 * np.mean((Wstar @ X - Y) ** 2)
    fac = (1 - lr * 2 / m * lam / k) ** (2 * np.arange(steps)[:, None])
    return resid + 0.5 / k * (fac * (E0**2).sum(0)[None] * lam[None]).sum(1)


STABILITY_WINDOW = 10  # a run is stable when its loss never rises over any window of this many steps
STABILITY_RTOL = 1e-6  # (relative to the loss at the window's start) before it reaches the tolerance


def is_stable(curve: np.ndarray, t_hit: int | None, window: int = STABILITY_WINDOW,
              rtol: float = STABILITY_RTOL) -> bool:
    """Declared stability criterion: finite, and L[t + window] <= L[t] (1 + rtol) for every t up to the
    step ``t_hit`` at which the run reached its tolerance (the whole run when it never did). Catches
    divergence and the chaotic, non-monotone runs at the edge of stability that reach a tolerance by
    chance."""
    c = np.asarray(curve, np.float64)
    if not np.all(np.isfinite(c)):
        return False
    end = len(c) if t_hit is None else min(len(c), t_hit + 1)
    c = c[:end]
    if len(c) <= window:
        return True
    return bool(np.all(c[window:] <= c[:-window] * (1 + rtol)))


def deep_linear(P: Params, rng: np.random.Generator, n: int = 1024, tol: float = 1e-3) -> dict[str, Any]:
    """Speedup of a bottleneck over the infinite deep linear net against the target amplitude and
    the width d: steps to reach tol * 0.5 amp^2 (rank-1 target amp * e_1'), every model at the shared
    rate ``linear_lr`` for ``linear_steps`` steps. Each run is flagged ``stable`` (:func:`is_stable`);
    a speedup is recorded only for stable runs that reached the tolerance."""
    m, steps, lr = P.input_dim, P.linear_steps, P.linear_lr
    X = rng.normal(size=(m, n))
    U0 = {d: rng.normal(scale=1 / np.sqrt(d), size=(1, d)) for d in P.linear_widths}
    V0 = {d: rng.normal(scale=1 / np.sqrt(m), size=(d, m)) for d in P.linear_widths}
    W0 = rng.normal(scale=1 / np.sqrt(m), size=(1, m))
    out: dict[str, Any] = {}
    for amp in P.linear_amplitudes:
        Y = amp * X[:1]
        level = tol * 0.5 * amp**2
        inf_curve = np.asarray(infinite_linear_run(jnp.asarray(W0), jnp.asarray(X), jnp.asarray(Y), lr, steps))
        closed = infinite_linear_closed_form(W0, X, Y, lr, steps)
        t_inf = steps_to(inf_curve, level)
        row = {"infinite": {"steps_to_tol": t_inf,  # error relative to the initial loss (the loss reaches ~0)
                            "closed_form_max_rel_err": float(np.max(np.abs(inf_curve - closed)) / closed[0]),
                            "stable": is_stable(inf_curve, t_inf)}}
        for d in P.linear_widths:
            U, V, curve = deep_linear_run(jnp.asarray(U0[d]), jnp.asarray(V0[d]), jnp.asarray(X), jnp.asarray(Y), lr, steps)
            curve = np.asarray(curve)
            t = steps_to(curve, level)
            stable = is_stable(curve, t)
            C = lambda U, V: d * np.asarray(U).T @ np.asarray(U) - m * np.asarray(V) @ np.asarray(V).T  # noqa: E731
            c0 = C(U0[d], V0[d])
            row[str(d)] = {"steps_to_tol": t, "speedup": (t_inf / t) if (t and t_inf and stable) else None,
                           "stable": stable, "diverged": bool(not np.all(np.isfinite(curve))),
                           "invariant_drift": float(np.linalg.norm(C(U, V) - c0) / np.linalg.norm(c0))}
        out[f"amp={amp:g}"] = row
    return out


# ----- experiments ------------------------------------------------------------------------------
def ntk_baseline(task: tuple, P: Params, lr: float) -> dict[str, Any]:
    """The infinite (NTK) network in closed form: expected training-loss curve by
    eigendecomposition, cross-checked against nt.predict (mean and covariance) at a few times."""
    import neural_tangents as nt

    x, y, xt, yt = task
    kfn = ntk_kernel_fn()
    k = kfn(x, None, ("nngp", "ntk"))
    ktr, knn = np.asarray(k.ntk), np.asarray(k.nngp)
    kte = np.asarray(kfn(xt, x, "ntk"))
    spec = ntk_spectrum(ktr, knn, y)
    curve = ntk_loss_curve(spec, lr, np.arange(P.steps + 1))
    pred = nt.predict.gradient_descent_mse_ensemble(kfn, x, y, learning_rate=lr)
    checks = []
    for tt in (P.steps // 10, P.steps):
        g = pred(t=float(tt), x_test=x, get="ntk", compute_cov=True)
        el = 0.5 * (np.sum((np.asarray(g.mean) - y) ** 2) + y.shape[1] * np.trace(np.asarray(g.covariance))) / y.size
        checks.append(abs(el - curve[tt]) / curve[tt])
    test = ntk_test_prediction(kte, ktr, y, lr, P.steps)
    gt = pred(t=float(P.steps), x_test=xt, get="ntk", compute_cov=True)
    expected_test = (np.mean((np.asarray(gt.mean) - yt) ** 2) + np.trace(np.asarray(gt.covariance)) / len(yt)) \
        / np.mean(yt**2)  # E over init of a single NTK network's test rel. MSE (k = 1 output)
    base = 0.5 * np.mean(y**2)
    loss_at = lambda t: float(ntk_loss_curve(spec, lr, np.array([t]))[0])  # noqa: E731
    extended = {f"steps_to_{p}pct_extended": first_step_below(loss_at, lvl * base, 1000 * P.steps)
                for p, lvl in (("10", 0.1), ("1", 0.01))}
    m = min(P.n_align, len(x))
    return {"curve": curve, "base": base, "closed_form_max_rel_err": float(max(checks)), **extended,
            "test_rel_mse_mean_predictor": float(np.mean((test - yt) ** 2) / np.mean(yt**2)),
            "test_rel_mse_expected": float(expected_test),
            "lambda_max": float(spec[0][-1]), "alignment": alignment(ktr[:m, :m], y[:m])}


def first_step_below(loss_at, level: float, t_max: int) -> int | None:
    """First integer t <= t_max with loss_at(t) <= level, by bisection (loss_at is non-increasing:
    every eigenmode of the expected NTK loss decays); None when even t_max is above."""
    if loss_at(t_max) > level:
        return None
    lo, hi = 0, t_max
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if loss_at(mid) <= level else (mid, hi)
    return hi if loss_at(lo) > level else lo


def summarize_curve(curve: np.ndarray, base: float) -> dict[str, Any]:
    return {"steps_to_10pct": steps_to(curve, 0.1 * base), "steps_to_1pct": steps_to(curve, 0.01 * base),
            "final_train_rel": float(curve[-1] / base) if np.isfinite(curve[-1]) else None}


def headline(task: tuple, P: Params) -> dict[str, Any]:
    """NTK against bottlenecks of several widths at the same learning rate, several seeds."""
    ntk = ntk_baseline(task, P, P.lr)
    base = ntk["base"]
    out = {"ntk": {**summarize_curve(ntk["curve"], base), "test_rel_mse": ntk["test_rel_mse_mean_predictor"],
                   "test_rel_mse_expected": ntk["test_rel_mse_expected"],
                   "closed_form_max_abs_err": ntk["closed_form_max_rel_err"],
                   "steps_to_10pct_extended": ntk["steps_to_10pct_extended"],
                   "steps_to_1pct_extended": ntk["steps_to_1pct_extended"], "alignment": ntk["alignment"]},
           "bottleneck": {}, "_curves": {"ntk": ntk["curve"]}, "_base": base,
           "_lr_max": 2 * task[1].size / ntk["lambda_max"]}  # the NTK's largest stable rate
    for d in P.bottleneck_widths:
        runs = [simulate(task, d, P, P.lr, P.steps, P.seed + s, track_kernel=P.n_align if s == 0 else 0)
                for s in range(P.seeds)]
        per = [summarize_curve(r["curve"], base) | {"test_rel_mse": r["test_rel_mse"], "diverged": r["diverged"]}
               for r in runs]
        mean = lambda key: (float(np.mean([p[key] for p in per])) if all(p[key] is not None for p in per)  # noqa: E731
                            else None)
        out["bottleneck"][str(d)] = {**{k: mean(k) for k in ("steps_to_10pct", "steps_to_1pct", "final_train_rel",
                                                             "test_rel_mse")},
                                     "per_seed": per, "kernel": runs[0]["kernel"]}
        out["_curves"][str(d)] = np.array([r["curve"] for r in runs])
    return out


def best_lr(task: tuple, P: Params, lr_max_ntk: float) -> dict[str, Any]:
    """Each model at its own best stable learning rate from ``lr_factors`` x the NTK's maximum
    stable rate 2n/lambda_max, chosen with seed ``P.seed``. A run is stable when its loss stays finite
    and ends within 2x of its minimum; among stable runs the best reaches 10 % first (the verdict's
    level; then 1 %, then the lowest final loss). Each bottleneck width is then run for every seed at
    its chosen rate (``steps_to_10pct_per_seed``)."""
    out = {}
    base = 0.5 * np.mean(task[1] ** 2)
    for name in ["ntk", *[str(d) for d in P.bottleneck_widths]]:
        candidates = []
        for f in P.lr_factors:
            lr = f * lr_max_ntk
            if name == "ntk":
                res = ntk_baseline(task, P, lr)
                curve, test = res["curve"], res["test_rel_mse_mean_predictor"]
            else:
                r = simulate(task, int(name), P, lr, P.steps, P.seed)
                curve, test = r["curve"], r["test_rel_mse"]
            s = summarize_curve(curve, base)
            stable = bool(np.all(np.isfinite(curve)) and curve[-1] <= 2 * np.min(curve))
            key = (not stable,
                   s["steps_to_10pct"] if s["steps_to_10pct"] is not None else 10**9,
                   s["steps_to_1pct"] if s["steps_to_1pct"] is not None else 10**9,
                   s["final_train_rel"] if s["final_train_rel"] is not None else np.inf)
            candidates.append((key, {"lr": lr, **s, "test_rel_mse": test, "stable": stable}))
        out[name] = min(candidates, key=lambda c: c[0])[1]
        if name != "ntk":
            lr = out[name]["lr"]
            per = [out[name]["steps_to_10pct"]] + [
                summarize_curve(simulate(task, int(name), P, lr, P.steps, P.seed + s)["curve"], base)["steps_to_10pct"]
                for s in range(1, P.seeds)]
            out[name]["steps_to_10pct_per_seed"] = per
    return out


def best_lr_per_width(best: dict[str, Any], never: int) -> dict[str, Any]:
    """Per-width verdict rows at each model's best rate: ``faster_than_ntk`` when the width's mean
    steps to 10 % over seeds is below the NTK's at its own best rate (a tie is not faster), and the
    90 % one-sample interval of log(NTK steps / bottleneck steps) over seeds (``log_speedup``; a seed
    that never got there counts as ``never`` steps)."""
    from ntkrepro.stats import one_sample

    t_ntk = best["ntk"]["steps_to_10pct"] or never
    out = {}
    for d, r in best.items():
        if d == "ntk":
            continue
        per = [t if t is not None else never for t in r.get("steps_to_10pct_per_seed", [r["steps_to_10pct"]])]
        out[d] = {"lr": r["lr"], "steps_to_10pct": r["steps_to_10pct"], "steps_to_1pct": r["steps_to_1pct"],
                  "test_rel_mse": r["test_rel_mse"], "steps_to_10pct_per_seed": per,
                  "faster_than_ntk": bool(np.mean(per) < t_ntk),
                  "log_speedup": one_sample([float(np.log(t_ntk / t)) for t in per])}
    return out


def alignment_unit_amplitude(P: Params, rng: np.random.Generator) -> dict[str, Any]:
    """Control for F3: the same alignment measurement at amplitude 1 (the premise, a large target,
    removed), for the narrowest width, one seed: alignment at the start and the end, and the NTK's."""
    task = make_task(P.target, 1.0, P.n_train, P.n_test, P.input_dim, rng)
    d = P.bottleneck_widths[0]
    r = simulate(task, d, P, P.lr, P.steps, P.seed, track_kernel=P.n_align)
    m = min(P.n_align, P.n_train)
    k = np.asarray(ntk_kernel_fn()(task[0][:m], None, "ntk"))
    return {"amplitude": 1.0, "d": d, "start": r["kernel"][0]["alignment"], "end": r["kernel"][-1]["alignment"],
            "ntk_alignment": alignment(k, task[1][:m])}


def rf_width_sweep(task: tuple, P: Params, base: float, d: int = 128) -> dict[str, Any]:
    """Where does the speedup come from? The hybrid at the widest headline bottleneck (d = 128, or
    the largest width below it) for several random-feature widths M of f, one seed, shared lr."""
    d = max([w for w in P.bottleneck_widths if w <= d] or P.bottleneck_widths[:1])
    out = {}
    for M in P.rf_widths:
        r = simulate(task, d, P.replace(rf_width=M), P.lr, P.steps, P.seed)
        out[str(M)] = {"d": d, **{k: v for k, v in summarize_curve(r["curve"], base).items()
                                  if k in ("steps_to_10pct", "steps_to_1pct")}, "test_rel_mse": r["test_rel_mse"]}
    return out


def no_bottleneck_finite(task: tuple, P: Params, base: float) -> dict[str, Any]:
    """A finite network WITHOUT a bottleneck (width ``wide_width``, two hidden layers as the NTK model)
    at the headline amplitude and rate: steps to 10 % and the relative change of its empirical NTK
    (Frobenius, on ``n_align`` training points) from initialization to the end. A large change
    means the finite net is not lazy there, so its speed is not the NTK's."""
    import neural_tangents as nt
    from neural_tangents import stax

    from ntkrepro.train import gd_mse

    x, y, xt, _ = task
    w = P.wide_width
    init, apply, _ = stax.serial(stax.Dense(w, W_std=1.0), stax.Relu(), stax.Dense(w, W_std=SQRT2),
                                 stax.Relu(), stax.Dense(1, W_std=SQRT2))
    p0 = jax.tree_util.tree_map(lambda a: a.astype(F32), init(jax.random.PRNGKey(P.seed), x.shape)[1])
    p1, losses, _ = gd_mse(apply, p0, jnp.asarray(x, F32), jnp.asarray(y, F32), jnp.asarray(xt, F32), P.lr, P.steps)
    m = min(P.n_align, len(x))
    ntk = nt.empirical_ntk_fn(apply, trace_axes=(), vmap_axes=0)
    xa = jnp.asarray(x[:m], F32)
    k0, k1 = np.asarray(ntk(xa, None, p0)).reshape(m, m), np.asarray(ntk(xa, None, p1)).reshape(m, m)
    s = summarize_curve(np.asarray(losses, np.float64), base)
    return {"width": w, "steps_to_10pct": s["steps_to_10pct"], "steps_to_1pct": s["steps_to_1pct"],
            "delta_ntk": float(np.linalg.norm(k1 - k0) / np.linalg.norm(k0))}


def finite_check(P: Params, rng: np.random.Generator) -> dict[str, Any]:
    """The hybrid against a fully finite NTK-parameterized stax network with the same bottleneck
    (width ``finite_width``, plain GD) on a smaller task, and the NTK against a finite network
    without bottleneck at unit amplitude (where it should be lazy)."""
    from neural_tangents import stax

    from ntkrepro.train import gd_mse

    out = {}
    for name, amp, d, w, steps in (("bottleneck", P.amplitude, P.finite_d, P.finite_width, P.steps),
                                   ("no_bottleneck_unit_amp", 1.0, P.wide_width, P.wide_width, P.wide_steps)):
        task = make_task(P.target, amp, P.n_finite, P.n_test, P.input_dim, rng)
        x, y, xt, yt = task
        init, apply, _ = stax.serial(stax.Dense(w, W_std=1.0), stax.Relu(), stax.Dense(d, W_std=SQRT2),
                                     stax.Dense(w, W_std=1.0), stax.Relu(), stax.Dense(1, W_std=SQRT2))
        p0 = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), init(jax.random.PRNGKey(P.seed), x.shape)[1])
        _, losses, _ = gd_mse(apply, p0, jnp.asarray(x, F32), jnp.asarray(y, F32), jnp.asarray(xt, F32), P.lr, steps)
        finite = np.asarray(losses, np.float64)
        base = 0.5 * np.mean(y**2)
        ref = (simulate(task, d, P, P.lr, steps, P.seed)["curve"] if name == "bottleneck"
               else ntk_baseline(task, P, P.lr)["curve"][: steps + 1])
        out[name] = {"amplitude": amp, "d": d, "width": w, "steps": steps, "finite": summarize_curve(finite, base),
                     "reference": summarize_curve(ref, base),
                     "final_loss_ratio": float(finite[-1] / ref[-1]),
                     "_curves": (finite / base, ref / base)}
    return out


def digits_panel(P: Params) -> dict[str, Any]:
    """Real data, reported whatever it shows: sklearn digits (one-hot - 0.1 targets), NTK mean
    predictor against a d = 8 bottleneck at the same learning rate."""
    from ntkrepro.data import load_split

    s = load_split("digits", min(512, P.n_train), 500, P.seed)
    task = Task(s.x_train, s.y_train, s.x_test, s.y_test)
    kfn = ntk_kernel_fn()
    ktr, kte = np.asarray(kfn(s.x_train, None, "ntk")), np.asarray(kfn(s.x_test, s.x_train, "ntk"))
    lr = 0.5 * 2 * s.y_train.size / np.linalg.eigvalsh(ktr)[-1]
    ntk_acc = float(np.mean(np.argmax(ntk_test_prediction(kte, ktr, s.y_train, lr, P.steps), 1) == s.labels_test))
    n = len(s.x_train)
    K_g, T_g = g_kernels(np.concatenate([s.x_train, s.x_test]))
    p, Z0 = init_hybrid(8, P.rf_width, 10, K_g, np.random.default_rng(P.seed))
    p = jax.tree_util.tree_map(lambda a: a.astype(F32), p)
    p, Z, S, losses = hybrid_run(p, jnp.asarray(Z0[:n], F32), jnp.zeros((n, 8), F32), jnp.asarray(s.y_train, F32),
                                 jnp.asarray(T_g[:n, :n], F32), lr, P.steps)
    pred = np.asarray(rf_apply(p, jnp.asarray(Z0[n:] - lr * T_g[n:, :n] @ np.asarray(S), F32)))
    return {"lr": float(lr), "ntk_mean_predictor_accuracy": ntk_acc,
            "bottleneck_d8_accuracy": float(np.mean(np.argmax(pred, 1) == s.labels_test)),
            "bottleneck_final_train_loss": float(np.asarray(losses)[-1])}


# ----- metrics and checks -----------------------------------------------------------------------
def collect(head: dict, dl: dict, best: dict, fin: dict, digits: dict | None, align1: dict | None = None,
            rf: dict | None = None, nob: dict | None = None) -> dict[str, Any]:
    k = head["bottleneck"]
    align = {d: {"start": v["kernel"][0], "end": v["kernel"][-1], "trajectory": v["kernel"]}
             for d, v in k.items() if v["kernel"]}
    n_steps = len(head["_curves"]["ntk"]) - 1
    speed = [_speedup(head["ntk"]["steps_to_10pct_extended"], v["steps_to_10pct"], 1000 * n_steps) for v in k.values()]
    out = {"ntk": head["ntk"], "bottleneck": drop_private(k), "finite_check": drop_private(fin), "deep_linear": dl,
           "alignment": align, "best_lr": best, "best_lr_per_width": best_lr_per_width(best, 2 * n_steps),
           "min_speedup_to_10pct": min(speed)}
    for key, val in (("digits", digits), ("alignment_unit_amplitude", align1), ("rf_width_sweep", rf),
                     ("no_bottleneck_finite", nob)):
        if val is not None:
            out[key] = val
    return out


def _speedup(t_ref: int | None, t: int | None, steps: int) -> float:
    """Lower bound on the speedup when the reference never gets there (counted as steps + 1)."""
    if t is None:
        return 0.0
    return ((t_ref if t_ref is not None else steps + 1) / max(t, 1))

