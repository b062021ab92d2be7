"""Small-sample inference behind the empirical verdicts of ``theory.claims``.

The unit of replication is the seed: every interval here is over per-seed statistics (one
number per seed, computed from that seed's curve), with Student's t on (seeds - 1) degrees of
freedom, paired by seed wherever two methods share one. The rules are symmetric: an
empirical claim is "held" when the 95% interval lies on the claimed side of its threshold,
"did not hold" when it lies on the other side, and "indistinguishable" otherwise. Below
``MIN_SEEDS`` seeds no verdict is given.

Calibration: a predicate's decision rule is run on data simulated at the experiment's own
design (its sizes and seeds, with the noise level, and for per-seed means the skewness,
estimated from its seeds; the truth is never fitted to the data judged). The truth is put at
the boundary of the claim (the share of "held" is the false-held rate), at the boundary of its
negation (the share of "did not hold" is the false-not-held rate), and at an effect of
interest fixed before the run (the share of "held" is the power). For a rule on a per-seed
mean (:func:`calibrate_mean_rule`) every rate is the worse of two noise families: normal, and a
gamma family with the sample skewness of the observed per-seed values.

Growth laws (:func:`growth_fits`): T(m) = a + b h(m) for h = ln m, sqrt m and m, and the
Box-Cox family a + b (m^c - 1)/c, which is ln m at c = 0, with c fitted by profile least
squares and a profile-likelihood interval. Everything is vectorised over columns, so a
seed bootstrap and the calibration replicates cost one batched fit.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats

__all__ = [
    "MIN_SEEDS",
    "LEVEL",
    "STRONG_BIC",
    "BOOTSTRAP_AGREEMENT",
    "LOG_LIKE_EXPONENT",
    "MeanInterval",
    "Calibration",
    "t_interval",
    "side_of",
    "sides",
    "t_bounds",
    "calibrate",
    "ONE_SIDED_ALPHA",
    "MEAN_RULE_REPLICATES",
    "sample_skewness",
    "standard_draws",
    "t_outcomes",
    "t_p_value",
    "holm_rejections",
    "calibrate_mean_rule",
    "GrowthFits",
    "growth_fits",
    "growth_outcomes",
    "growth_reasons",
    "bootstrap_columns",
]

MIN_SEEDS = 3  # fewer seeds than this: no empirical verdict
LEVEL = 0.95  # two-sided level of every interval (so a one-sided false "held" has rate <= 2.5%)
STRONG_BIC = 6.0  # a BIC difference of at least this counts as strong evidence between laws
BOOTSTRAP_AGREEMENT = 0.9  # a decisive growth-law verdict must recur in this share of seed resamples
LOG_LIKE_EXPONENT = 0.25  # |c| below this in a + b (m^c - 1)/c counts as logarithmic growth
FLAT_FRACTION = 0.1  # T changing by less than this share of its mean over the whole m range: no growth
CALIBRATION_REPLICATES = 400
ONE_SIDED_ALPHA = (1.0 - LEVEL) / 2.0  # each one-sided decision ("held", "did not hold") is a test at this level
MEAN_RULE_REPLICATES = 4000  # simulated data sets per scenario and noise family for a rule on a per-seed mean
SKEW_FREE = 1e-3  # |sample skewness| below this: the skewed family is the normal one
SKEW_QUANTILE_REPLICATES = 20000  # simulated t statistics behind a skew-adjusted critical value


@dataclass(frozen=True)
class MeanInterval:
    """Mean of per-seed values with its two-sided Student-t interval (``df = count - 1``)."""

    mean: float
    low: float
    high: float
    sd: float
    count: int


def t_bounds(values, level: float = LEVEL):
    """(mean, low, high) of the Student-t interval along the last axis of ``values``
    (one data set of per-seed values per row; at least 2 values each): mean ± t_{(1+level)/2,
    k-1} sd / sqrt(k) with sd the sample standard deviation (ddof 1) of the k values. The one
    definition of the seed interval: :func:`t_interval` (one data set, as a record), the
    verdicts and the figures' bands all compute it here."""
    v = np.asarray(values, dtype=np.float64)
    k = v.shape[-1]
    mean = v.mean(axis=-1)
    half = float(stats.t.ppf(0.5 + level / 2.0, k - 1)) * v.std(axis=-1, ddof=1) / math.sqrt(k)
    return mean, mean - half, mean + half


def t_interval(values, level: float = LEVEL) -> MeanInterval:
    """Student-t interval (:func:`t_bounds`) of the mean of ``values`` (one per seed, any shape,
    all finite); infinite with one value. ValueError for no value or a value not finite."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError(f"t_interval needs at least one value, all finite; got {v.tolist()}")
    if v.size == 1:
        return MeanInterval(float(v.mean()), -math.inf, math.inf, math.nan, 1)
    mean, low, high = t_bounds(v, level)
    return MeanInterval(float(mean), float(low), float(high), float(v.std(ddof=1)), int(v.size))


def sides(low, high, threshold: float, claimed: str) -> np.ndarray:
    """Outcomes of intervals [low, high] against ``threshold`` when the claim says the true
    value lies ``claimed`` ("below" or "above") it: "held" (the interval is on the claimed
    side), "did not hold" (on the other side) or "indistinguishable" (it contains the
    threshold). Works elementwise on arrays."""
    if claimed not in ("below", "above"):
        raise ValueError(f"claimed must be 'below' or 'above', got {claimed!r}")
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    if claimed == "below":
        low, high, threshold = -high, -low, -threshold
    out = np.full(low.shape, "indistinguishable", dtype=object)
    out[low > threshold] = "held"
    out[high < threshold] = "did not hold"
    return out


def side_of(low: float, high: float, threshold: float, claimed: str) -> str:
    """:func:`sides` for one interval."""
    return str(sides(low, high, threshold, claimed))


@dataclass(frozen=True)
class Calibration:
    """How often a decision rule errs at the design it was applied to.

    false_held_rate: share of "held" when the truth is ``false_scenario`` (the claim's boundary);
    power: share of "held" when the truth is ``true_scenario`` (the effect of interest);
    replicates: simulations per scenario (and per noise family); false_not_held_rate: share of
    "did not hold" at the boundary of the claim's negation (None when not measured);
    effect_of_interest: the effect ``power`` is measured at, in the units of the rule's
    statistic (fixed before the run, never the measured effect).
    """

    false_held_rate: float
    power: float
    replicates: int
    false_scenario: str
    true_scenario: str
    false_not_held_rate: float | None = None
    effect_of_interest: float | None = None


def calibrate(
    decide: Callable[[object], np.ndarray],
    simulate_false: Callable[[np.random.Generator, int], object],
    simulate_true: Callable[[np.random.Generator, int], object],
    *,
    false_scenario: str,
    true_scenario: str,
    replicates: int = CALIBRATION_REPLICATES,
    seed: int = 0,
) -> Calibration:
    """Share of "held" among the outcomes of ``decide`` on a batch of ``replicates`` data sets
    simulated from each scenario (``simulate(rng, replicates)`` returns the batch that
    ``decide`` turns into an array of outcomes). Seeded: the same inputs give the same rates."""
    rates = []
    for offset, simulate in enumerate((simulate_false, simulate_true)):
        rng = np.random.default_rng([seed, offset])
        outcomes = np.asarray(decide(simulate(rng, replicates)))
        rates.append(float(np.mean(outcomes == "held")))
    return Calibration(rates[0], rates[1], replicates, false_scenario, true_scenario)


def sample_skewness(values) -> float:
    """Adjusted Fisher-Pearson skewness G1 of ``values`` (scipy's ``skew(bias=False)``); 0 with
    fewer than 3 values or no spread."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size < 3 or not np.all(np.isfinite(v)) or float(np.ptp(v)) == 0.0:
        return 0.0
    return float(stats.skew(v, bias=False))


def standard_draws(rng: np.random.Generator, shape, skew: float = 0.0) -> np.ndarray:
    """Draws with mean 0, sd 1 and skewness ``skew``: standard normal when |skew| < SKEW_FREE,
    else a standardised gamma (shape 4/skew², skewness 2/sqrt(shape) = |skew|), negated for a
    negative skew."""
    if abs(skew) < SKEW_FREE:
        return rng.standard_normal(shape)
    k = 4.0 / skew**2
    return math.copysign(1.0, skew) * (rng.gamma(k, 1.0, shape) - k) / math.sqrt(k)


@functools.lru_cache(maxsize=4096)
def _skewed_critical_values(seeds: int, skew: float, held_alpha: float, not_held_alpha: float) -> tuple[float, float]:
    """(c_held, c_not_held) for the claimed-side t statistic z of ``seeds`` values whose noise has
    skewness ``skew`` in the claimed direction: the larger of Student's t quantile and the
    simulated quantile of z under :func:`standard_draws` (so each one-sided decision keeps its
    level under the normal and under that skewed family)."""
    c_held = float(stats.t.ppf(1.0 - held_alpha, seeds - 1))
    c_not_held = float(stats.t.ppf(1.0 - not_held_alpha, seeds - 1))
    if abs(skew) < SKEW_FREE:
        return c_held, c_not_held
    draws = standard_draws(np.random.default_rng([seeds, 7919]), (SKEW_QUANTILE_REPLICATES, seeds), skew)
    z = draws.mean(axis=1) / (draws.std(axis=1, ddof=1) / math.sqrt(seeds))
    return (max(c_held, float(np.quantile(z, 1.0 - held_alpha))),
            max(c_not_held, -float(np.quantile(z, not_held_alpha))))


def t_outcomes(values, threshold: float, claimed: str, *, held_alpha: float = ONE_SIDED_ALPHA,
               not_held_alpha: float = ONE_SIDED_ALPHA, skew: float = 0.0) -> np.ndarray:
    """The one-sample t rule along the last axis of ``values`` (per-seed values, >= 2 each):
    "held" when the one-sided (1 - held_alpha) bound of the mean lies on the ``claimed`` side
    ("below" or "above") of ``threshold``, "did not hold" when the one-sided (1 - not_held_alpha)
    bound lies on the other side, "indistinguishable" otherwise. With both alphas at
    ONE_SIDED_ALPHA and ``skew`` 0 it is :func:`sides` of the two-sided LEVEL interval; a smaller
    ``not_held_alpha`` is the Bonferroni/Holm share of a "did not hold" over several tests. A
    non-zero ``skew`` (of the per-seed noise, in the values' own direction) widens each bound to
    the critical value that keeps its level under the gamma family of that skewness too
    (:func:`_skewed_critical_values`, 20,000 simulated statistics, seeded)."""
    if claimed not in ("below", "above"):
        raise ValueError(f"claimed must be 'below' or 'above', got {claimed!r}")
    v = np.asarray(values, dtype=np.float64)
    k = v.shape[-1]
    sign = 1.0 if claimed == "above" else -1.0
    c_held, c_not_held = _skewed_critical_values(int(k), round(sign * float(skew), 3), float(held_alpha),
                                                 float(not_held_alpha))
    mean = sign * (v.mean(axis=-1) - threshold)  # > 0 on the claimed side
    se = v.std(axis=-1, ddof=1) / math.sqrt(k)
    out = np.full(mean.shape, "indistinguishable", dtype=object)
    out[mean - c_held * se > 0] = "held"
    out[mean + c_not_held * se < 0] = "did not hold"
    return out


def t_p_value(values, threshold: float, claimed: str) -> float:
    """One-sided p-value of "did not hold" (the per-seed mean lies on the other side of
    ``threshold`` than ``claimed``): Student's t on (count - 1) degrees of freedom. 1 when the
    values have no spread and their mean is on the claimed side (or on the threshold), 0 when
    on the other side."""
    v = np.asarray(values, dtype=np.float64).ravel()
    sign = 1.0 if claimed == "above" else -1.0
    distance = sign * (float(v.mean()) - threshold)  # < 0 on the other side
    sd = float(v.std(ddof=1))
    if sd == 0.0:
        return 0.0 if distance < 0 else 1.0
    return float(stats.t.cdf(distance / (sd / math.sqrt(v.size)), v.size - 1))


def holm_rejections(p_values, alpha: float = ONE_SIDED_ALPHA) -> np.ndarray:
    """Holm's step-down procedure: which of the hypotheses with ``p_values`` are rejected with
    family-wise error at most ``alpha`` (the smallest p against alpha/k, the next against
    alpha/(k-1), ..., stopping at the first that is not rejected)."""
    p = np.asarray(p_values, dtype=np.float64).ravel()
    rejected = np.zeros(p.size, dtype=bool)
    for rank, index in enumerate(np.argsort(p, kind="stable")):
        if p[index] > alpha / (p.size - rank):
            break
        rejected[index] = True
    return rejected


def calibrate_mean_rule(decide: Callable[[np.ndarray], np.ndarray], values, boundaries, effect: float, *,
                        null: str, alternative: str, replicates: int = MEAN_RULE_REPLICATES,
                        seed: int = 0) -> Calibration:
    """Both error rates and the power of a rule on the mean of per-seed ``values``.

    ``decide`` turns a (replicates, seeds) batch into outcomes. Simulated data sets have as many
    seeds as ``values`` and their sd; the noise is drawn from two families, normal and
    :func:`standard_draws` with the sample skewness of ``values``. For every truth in
    ``boundaries`` (the claim's boundary, which for these rules is also its negation's) and both
    families: false held = share of "held", false not held = share of "did not hold"; the worst
    over boundaries and families is reported. Power: share of "held" with the truth at
    ``effect``, the lower of the two families. Seeded: same inputs, same rates."""
    v = np.asarray(values, dtype=np.float64).ravel()
    sd = float(v.std(ddof=1)) if v.size > 1 else 0.0
    sd = sd if math.isfinite(sd) and sd > 0 else 1e-12
    skews = sorted({0.0, sample_skewness(v)}, key=abs)
    false_held, false_not_held, power = 0.0, 0.0, 1.0
    for f, skew in enumerate(skews):
        for b, truth in enumerate([*boundaries, effect]):
            rng = np.random.default_rng([seed, f, b])
            outcomes = np.asarray(decide(truth + sd * standard_draws(rng, (replicates, v.size), skew)))
            if b < len(boundaries):
                false_held = max(false_held, float(np.mean(outcomes == "held")))
                false_not_held = max(false_not_held, float(np.mean(outcomes == "did not hold")))
            else:
                power = min(power, float(np.mean(outcomes == "held")))
    family = "normal" + (f" and gamma with skewness {skews[-1]:.2f} (the seeds' own), the worse" if len(skews) > 1 else "")
    return Calibration(false_held, power, replicates, f"{null}; noise {family}", alternative,
                       false_not_held_rate=false_not_held, effect_of_interest=float(effect))


# ------------------------------------------------------------------ growth laws T(m)

EXPONENT_GRID = np.round(np.linspace(-1.0, 1.5, 251), 6)
NAMED_LAWS = {"log": 0.0, "sqrt": 0.5, "linear": 1.0}


def _box_cox(m: np.ndarray, c: float) -> np.ndarray:
    return np.log(m) if c == 0 else (np.power(m, c) - 1.0) / c


def _rss_and_coefficients(h: np.ndarray, y: np.ndarray):
    """Least squares of every column of y (k, R) on [1, h]: (rss (R,), a (R,), b (R,), sxx)."""
    hc = h - h.mean()
    sxx = float(hc @ hc)
    b = hc @ (y - y.mean(0)) / sxx
    a = y.mean(0) - b * h.mean()
    resid = y - a - np.outer(h, b)
    return np.sum(resid**2, axis=0), a, b, sxx


@dataclass(frozen=True)
class GrowthFits:
    """Fits of T(m) = a + b h(m), column by column.

    For each name in ("log", "sqrt", "linear"): ``rss[name]``, ``a[name]``, ``b[name]``, and
    ``bic[name]`` (2 parameters); ``b_log_low/high``: the t-interval (df = k - 2) of b in the
    log law. The Box-Cox family: ``c`` the best exponent on EXPONENT_GRID, ``c_low``/``c_high``
    its profile interval (the grid ends when the interval is open); ``mean`` of each column and
    ``log_range`` = ln(m_max/m_min). Arrays have one entry per column of the fitted values.
    """

    points: int
    rss: dict
    a: dict
    b: dict
    bic: dict
    b_log_low: np.ndarray
    b_log_high: np.ndarray
    c: np.ndarray
    c_low: np.ndarray
    c_high: np.ndarray
    mean: np.ndarray
    log_range: float


def _bic(rss: np.ndarray, k: int, p: int) -> np.ndarray:
    return k * np.log(np.maximum(rss, 1e-300) / k) + p * math.log(k)


def growth_fits(m, values, level: float = LEVEL) -> GrowthFits:
    """Fit each column of ``values`` (k points, or (k, R) for R data sets) against ``m``
    (k positive sizes, repeated once per seed). Needs k >= 4 and >= 3 distinct sizes."""
    m = np.asarray(m, dtype=np.float64).ravel()
    y = np.asarray(values, dtype=np.float64)
    y = y.reshape(m.size, -1)
    k = m.size
    if k < 4 or np.unique(m).size < 3 or np.any(m <= 0):
        raise ValueError(f"growth fits need >= 4 points at >= 3 distinct positive sizes, got m={m.tolist()}")
    rss, a, b, bic = {}, {}, {}, {}
    for name, c in NAMED_LAWS.items():
        rss[name], a[name], b[name], sxx = _rss_and_coefficients(_box_cox(m, c), y)
        bic[name] = _bic(rss[name], k, 2)
        if name == "log":
            se = np.sqrt(rss[name] / (k - 2) / sxx)
            half = float(stats.t.ppf(0.5 + level / 2.0, k - 2)) * se
            b_low, b_high = b[name] - half, b[name] + half
    # Profile RSS over the exponent grid in one product: RSS(c) = Syy - (h_c . y_c)^2 / Shh(c).
    centred_h = np.stack([_box_cox(m, c) for c in EXPONENT_GRID])
    centred_h -= centred_h.mean(axis=1, keepdims=True)
    centred_y = y - y.mean(axis=0)
    profile = np.sum(centred_y**2, axis=0) - (centred_h @ centred_y) ** 2 / np.sum(centred_h**2, axis=1)[:, None]
    profile = np.maximum(profile, 0.0)  # (grid, R)
    best = np.argmin(profile, axis=0)
    rss_min = profile[best, np.arange(y.shape[1])]
    if k > 3:
        limit = rss_min * (1.0 + float(stats.f.ppf(level, 1, k - 3)) / (k - 3))
    else:
        limit = np.full_like(rss_min, np.inf)
    inside = profile <= limit
    grid = EXPONENT_GRID[:, None]
    c_low = np.where(inside, grid, np.inf).min(axis=0)
    c_high = np.where(inside, grid, -np.inf).max(axis=0)
    return GrowthFits(k, rss, a, b, bic, b_low, b_high, EXPONENT_GRID[best], c_low, c_high,
                      y.mean(axis=0), float(np.log(m.max() / m.min())))


def growth_outcomes(fits: GrowthFits, *, censored: bool = False) -> np.ndarray:
    """The log-growth decision for every column of ``fits`` (before the bootstrap gate).

    held: growth significantly more than flat (the lower end of b's interval times ln(m_max/m_min)
    above FLAT_FRACTION of the mean T; merely "not significantly flat" let a law at the flat
    boundary through more than half the time), b of the log law > 0 (interval above 0), the exponent interval inside
    (-LOG_LIKE_EXPONENT, LOG_LIKE_EXPONENT), and log better than sqrt and linear by at least
    STRONG_BIC. did not hold: growth faster than log (exponent interval above
    LOG_LIKE_EXPONENT; a BIC preference for sqrt m is no such test: at c = 0.25, the edge, it
    fires in up to half the data sets), saturating (interval below -LOG_LIKE_EXPONENT), falling (b's interval below 0) or flat (the whole interval of
    b ln(m_max/m_min), the log law's change over the measured range, within
    FLAT_FRACTION of the mean T). indistinguishable otherwise. With ``censored`` data (some T* beyond the budget, entered at the budget),
    only "faster than log" can be concluded, since censoring hides growth.
    """
    reasons = growth_reasons(fits)
    faster = reasons["faster than log"]
    slower = reasons["slower than log"] | reasons["falling"] | reasons["flat"]
    held = (
        (fits.b_log_low * fits.log_range > FLAT_FRACTION * np.abs(fits.mean))  # significantly more than flat
        & (fits.b_log_low > 0)
        & (fits.c_low > -LOG_LIKE_EXPONENT)
        & (fits.c_high < LOG_LIKE_EXPONENT)
        & (fits.bic["sqrt"] >= fits.bic["log"] + STRONG_BIC)
        & (fits.bic["linear"] >= fits.bic["log"] + STRONG_BIC)
    )
    if censored:
        held = np.zeros_like(held)
        slower = np.zeros_like(slower)
    out = np.full(held.shape, "indistinguishable", dtype=object)
    out[slower] = "did not hold"
    out[faster] = "did not hold"
    out[held] = "held"
    return out


def growth_reasons(fits: GrowthFits) -> dict[str, np.ndarray]:
    """The tests behind a "did not hold" of :func:`growth_outcomes`, each a boolean per column:
    "faster than log" (exponent interval above LOG_LIKE_EXPONENT), "slower than log" (exponent interval below -LOG_LIKE_EXPONENT), "falling"
    (b's interval below 0) and "flat" (the log law's change over the range within FLAT_FRACTION
    of the mean T). Several can be true at once."""
    return {
        "faster than log": fits.c_low > LOG_LIKE_EXPONENT,
        "slower than log": fits.c_high < -LOG_LIKE_EXPONENT,
        "falling": fits.b_log_high < 0,
        "flat": np.maximum(np.abs(fits.b_log_low), np.abs(fits.b_log_high)) * fits.log_range
        <= FLAT_FRACTION * np.abs(fits.mean),
    }


def bootstrap_columns(groups: list[np.ndarray], resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices (k, resamples) that resample seeds with replacement inside each group
    (``groups``: the row indices of one size each), keeping every group's size."""
    picks = [g[rng.integers(0, g.size, size=(g.size, resamples))] for g in groups]
    return np.concatenate(picks, axis=0)
