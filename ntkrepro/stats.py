"""The statistics the claims need: paired comparisons over seeds, t confidence intervals, and the
minimum detectable effect (power) of a paired t test. scipy provides the distributions."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats as _st


def paired_interval(mean_diff: float, sd_diff: float, n: int, level: float = 0.90,
                    power: float = 0.80) -> dict[str, float]:
    """Two-sided ``level`` t interval for the mean of paired differences, and the minimum
    detectable effect of the one-sided test at alpha = (1 - level)/2 with the given power:
    ``mde = (t_{1-alpha} + t_{power}) sd / sqrt(n)`` (normal-approximation form with t quantiles).

    ``level = 0.90`` makes "CI low > 0" the one-sided paired t test at alpha = 0.05."""
    if n < 2 or not math.isfinite(sd_diff):
        return {"mean_diff": mean_diff, "ci_low": float("nan"), "ci_high": float("nan"), "n": n,
                "level": level, "mde": float("nan")}
    se = sd_diff / math.sqrt(n)
    alpha = (1 - level) / 2
    tq = float(_st.t.ppf(1 - alpha, n - 1))
    mde = (tq + float(_st.t.ppf(power, n - 1))) * sd_diff / math.sqrt(n)
    return {"mean_diff": float(mean_diff), "ci_low": float(mean_diff - tq * se),
            "ci_high": float(mean_diff + tq * se), "n": int(n), "level": level, "mde": float(mde)}


def paired(a: Sequence[float], b: Sequence[float], level: float = 0.90) -> dict[str, float]:
    """:func:`paired_interval` of ``a - b`` (matched by seed)."""
    return one_sample(np.asarray(a, float) - np.asarray(b, float), level)


def seeds_for_power(effect: float, sd_diff: float, alpha: float = 0.05, power: float = 0.80,
                    max_n: int = 1000) -> int:
    """Smallest n with a one-sided paired t test at ``alpha`` reaching ``power`` against ``effect``
    (noncentral t)."""
    for n in range(2, max_n + 1):
        tq = _st.t.ppf(1 - alpha, n - 1)
        with np.errstate(divide="ignore", invalid="ignore"):  # scipy's nct at 1 dof
            reached = 1 - _st.nct.cdf(tq, n - 1, effect / (sd_diff / math.sqrt(n))) >= power
        if reached:
            return n
    return max_n


def welch(a: Sequence[float], b: Sequence[float], level: float = 0.90) -> dict[str, float]:
    """Two-sided ``level`` Welch t interval for mean(a) - mean(b) (independent samples), with the
    minimum detectable effect at the Welch degrees of freedom."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        return {"mean_diff": float(a.mean() - b.mean()), "ci_low": float("nan"), "ci_high": float("nan"),
                "n": int(min(len(a), len(b))), "level": level, "mde": float("nan")}
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    dof = (va + vb) ** 2 / ((va**2 / (len(a) - 1) if va > 0 else 0) + (vb**2 / (len(b) - 1) if vb > 0 else 0)
                            ) if se > 0 else float(len(a) + len(b) - 2)
    tq = float(_st.t.ppf(1 - (1 - level) / 2, dof))
    m = float(a.mean() - b.mean())
    return {"mean_diff": m, "ci_low": m - tq * se, "ci_high": m + tq * se, "n": int(min(len(a), len(b))),
            "level": level, "mde": float((tq + float(_st.t.ppf(0.8, dof))) * se)}


def one_sample(a: Sequence[float], level: float = 0.90) -> dict[str, float]:
    """:func:`paired_interval` of the values themselves (differences already taken)."""
    a = np.asarray(a, float)
    return paired_interval(float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else float("nan"), len(a), level)


def worst_interval(rows: Sequence[dict], effect: float = 0.0) -> dict:
    """The row an ``interval>`` gate should judge among several comparisons: a row whose interval lies
    wholly below ``effect`` (a clear failure) if there is one, else the row with the lowest CI low
    (the weakest support). Taking only the lowest CI low could hide a clear failure behind a wider,
    inconclusive interval."""
    rows = list(rows)
    failing = [r for r in rows if math.isfinite(r.get("ci_high", float("nan"))) and r["ci_high"] < effect]
    if failing:
        return min(failing, key=lambda r: r["ci_high"])
    return min(rows, key=lambda r: r["ci_low"] if math.isfinite(r.get("ci_low", float("nan"))) else -math.inf)


def resampled(diffs: Sequence[float], n_train: int, n_test: int, level: float = 0.90) -> dict[str, float]:
    """Two-sided ``level`` interval for the mean of paired differences over random train/test resplits
    of ONE data set, with the Nadeau-Bengio (2003) corrected resampled t: the resplits share most of
    their data, so the variance of the mean is sd^2 (1/J + n_test/n_train), not sd^2 / J."""
    d = np.asarray(diffs, float)
    J = len(d)
    if J < 2:
        return {"mean_diff": float(d.mean()), "ci_low": float("nan"), "ci_high": float("nan"), "n": J,
                "level": level, "mde": float("nan")}
    se = float(d.std(ddof=1)) * math.sqrt(1 / J + n_test / n_train)
    tq = float(_st.t.ppf(1 - (1 - level) / 2, J - 1))
    m = float(d.mean())
    return {"mean_diff": m, "ci_low": m - tq * se, "ci_high": m + tq * se, "n": J, "level": level,
            "mde": float((tq + float(_st.t.ppf(0.8, J - 1))) * se)}


def mde_from_se(se: float, n: int, level: float = 0.90, power: float = 0.80) -> float:
    """Minimum detectable effect of the one-sided test behind a two-sided ``level`` t interval with
    standard error ``se`` at ``n``: ``(t_{1-alpha, n-1} + t_{power, n-1}) se``, alpha = (1 - level)/2
    (the same formula as :func:`paired_interval`)."""
    if n < 2 or not math.isfinite(se):
        return float("nan")
    alpha = (1 - level) / 2
    return float((_st.t.ppf(1 - alpha, n - 1) + _st.t.ppf(power, n - 1)) * se)


def se_of_interval(row: dict, level: float | None = None) -> float:
    """The standard error behind an interval row ``{mean(_diff), ci_low, ci_high, n, [sd], [level]}``:
    ``sd / sqrt(n)`` when the row carries ``sd`` (or ``sd_diff``), else the half-width over the t
    quantile of its level (0.90 when the row does not say). The half-width form also recovers the
    corrected (resampled) or Welch standard errors, which are not sd / sqrt(n)."""
    n = int(row.get("n") or 0)
    sd = row.get("sd", row.get("sd_diff"))
    if isinstance(sd, (int, float)) and math.isfinite(sd) and n >= 1:
        return float(sd) / math.sqrt(n)
    lo, hi = row.get("ci_low"), row.get("ci_high")
    if n < 2 or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in (lo, hi)):
        return float("nan")
    lev = level if level is not None else float(row.get("level", 0.90))
    return float((hi - lo) / 2 / _st.t.ppf(1 - (1 - lev) / 2, n - 1))


def seeds_to_decide(effect: float, se: float, n: int, level: float = 0.90, power: float = 0.80,
                    min_n: int = 2, max_n: int = 10_000) -> int | None:
    """Smallest number of seeds at which ``effect`` is detected with ``power`` by the one-sided test
    behind a two-sided ``level`` interval, assuming the per-seed spread stays ``sd = se sqrt(n)``
    (so the standard error falls as 1/sqrt(n)): the smallest m >= ``min_n`` with
    ``(t_{1-alpha, m-1} + t_{power, m-1}) sd / sqrt(m) <= |effect|``. None when the effect is zero or
    not finite, or when even ``max_n`` does not suffice."""
    if not (math.isfinite(effect) and math.isfinite(se) and effect != 0 and n >= 1):
        return None
    sd = se * math.sqrt(n)
    if sd == 0:
        return max(min_n, 2)
    for m in range(max(min_n, 2), max_n + 1):
        if mde_from_se(sd / math.sqrt(m), m, level, power) <= abs(effect):
            return m
    return None


def seeds_to_decide_with_floor(effect: float, se_seeds: float, se_points: float, n: int, n_test: int,
                               level: float = 0.90, power: float = 0.80, min_n: int = 2,
                               max_n: int = 10_000) -> tuple[int | None, int | None]:
    """``(seeds, test_points)`` for an interval whose standard error has a seed part and a test-set part
    (:func:`paired_bootstrap`): with m seeds and T test points, se(m, T)^2 = se_seeds^2 n / m +
    se_points^2 n_test / T (normal theory). ``seeds`` is the smallest m >= ``min_n`` with
    (z_{1-alpha} + z_power) se(m, n_test) <= |effect|, or None when the test-set part alone
    (m -> infinity) is too large: then more seeds cannot decide, and ``test_points`` is the smallest T
    that would with the seed part at its limit of zero (a lower bound: both parts must shrink).
    ``test_points`` is None when seeds suffice."""
    if not all(math.isfinite(x) for x in (effect, se_seeds, se_points)) or effect == 0 or n < 1 or n_test < 1:
        return None, None
    z = _st.norm.ppf(1 - (1 - level) / 2) + _st.norm.ppf(power)
    room = (abs(effect) / z) ** 2 - se_points ** 2
    if room <= 0:
        return None, int(math.ceil(se_points ** 2 * n_test / (abs(effect) / z) ** 2)) + 1
    m = max(min_n, 2, int(math.ceil(se_seeds ** 2 * n / room)))
    return (m if m <= max_n else None), None


def paired_bootstrap(a, b, level: float = 0.90, n_boot: int = 2000, seed: int = 0) -> dict:
    """Interval for mean(a) - mean(b) where ``a`` and ``b`` are per-(seed, test point) scores of two arms
    on the same test points, shape ``(seeds, test_points)`` (e.g. 0/1 correctness; a deterministic arm
    such as a kernel may be given once, shape ``(test_points,)``, and is broadcast over the seeds): a
    paired bootstrap that resamples the seeds and, independently, the test points (two-way; the pairing
    kept), so the interval carries the test-set sampling error as well as the seed-to-seed spread.

    Each of the ``n_boot`` draws weighs seed s by w_s ~ Multinomial(S, 1/S) and test point t by
    v_t ~ Multinomial(T, 1/T); its statistic is sum_st w_s v_t D_st / (S T) with D = a - b. Percentile
    interval at ``level``; ``se`` is the bootstrap standard deviation and ``mde`` the normal-theory
    minimum detectable effect (z_{1-alpha/2} + z_0.8) se. No ``sd``: the interval is not a t interval,
    so :func:`se_of_interval` reads its half-width.

    The row also splits the standard error into its two sources (normal theory, no interaction term):
    ``se_seeds`` = sd_s(mean_t D_st) / sqrt(S), the part more seeds shrink, and ``se_points`` =
    sd_t(mean_s D_st) / sqrt(T), the test-set sampling error, which no number of seeds removes. With m
    seeds the standard error is about sqrt(se_seeds^2 S / m + se_points^2), so ``se_points`` is a floor
    (:func:`seeds_to_decide_with_floor`)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.ndim == 1:
        a = a[None, :]
    if b.ndim == 1:
        b = np.broadcast_to(b[None, :], a.shape)
    if a.shape != b.shape:
        raise ValueError(f"paired_bootstrap: arms of different shapes {a.shape} and {b.shape}")
    d = a - b
    S, T = d.shape
    rng = np.random.default_rng(seed)
    ws = rng.multinomial(S, np.full(S, 1 / S), size=n_boot).astype(np.float64)
    wt = rng.multinomial(T, np.full(T, 1 / T), size=n_boot).astype(np.float64)
    boots = np.einsum("bs,bs->b", ws, wt @ d.T) / (S * T)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha])
    se = float(boots.std(ddof=1))
    se_seeds = float(d.mean(axis=1).std(ddof=1) / np.sqrt(S)) if S > 1 else float("nan")
    se_points = float(d.mean(axis=0).std(ddof=1) / np.sqrt(T)) if T > 1 else float("nan")
    return {"mean_diff": float(d.mean()), "ci_low": float(lo), "ci_high": float(hi), "n": int(S),
            "n_test": int(T), "level": level, "se": se, "se_seeds": se_seeds, "se_points": se_points,
            "mde": float((_st.norm.ppf(1 - alpha) + _st.norm.ppf(0.8)) * se),
            "method": f"paired bootstrap over seeds and test points ({n_boot} two-way resamples, percentile)"}
