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
    d = np.asarray(a, float) - np.asarray(b, float)
    return paired_interval(float(d.mean()), float(d.std(ddof=1)) if len(d) > 1 else float("nan"), len(d), level)


def seeds_for_power(effect: float, sd_diff: float, alpha: float = 0.05, power: float = 0.80,
                    max_n: int = 1000) -> int:
    """Smallest n with a one-sided paired t test at ``alpha`` reaching ``power`` against ``effect``
    (noncentral t)."""
    for n in range(2, max_n + 1):
        tq = _st.t.ppf(1 - alpha, n - 1)
        if 1 - _st.nct.cdf(tq, n - 1, effect / (sd_diff / math.sqrt(n))) >= power:
            return n
    return max_n
