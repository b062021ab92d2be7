"""Small-sample inference behind the empirical verdicts of ``theory.claims``.

The unit of replication is the seed: every interval here is over per-seed statistics (one
number per seed, computed from that seed's curve), with Student's t on (seeds - 1) degrees of
freedom, paired by seed wherever two methods share one. The rules are symmetric: an
empirical claim is "held" when the 95% interval lies on the claimed side of its threshold,
"did not hold" when it lies on the other side, and "indistinguishable" otherwise. Below
``MIN_SEEDS`` seeds no verdict is given.

Calibration (:func:`calibrate`): a predicate's decision rule is run on data simulated at
the experiment's own design (its sizes and seeds, with the noise level estimated from its
seeds), once with the truth at the least favourable *false* value of the claim (the
threshold itself, or the nearest alternative law) and once with the truth at the claimed
value. The share of "held" answers is the false-"held" rate and the power.

Growth laws (:func:`growth_fits`): T(m) = a + b h(m) for h = ln m, sqrt m and m, and the
Box-Cox family a + b (m^c - 1)/c, which is ln m at c = 0, with c fitted by profile least
squares and a profile-likelihood interval. Everything is vectorised over columns, so a
seed bootstrap and the calibration replicates cost one batched fit.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class MeanInterval:
    """Mean of per-seed values with its two-sided Student-t interval (``df = count - 1``)."""

    mean: float
    low: float
    high: float
    sd: float
    count: int


def t_interval(values, level: float = LEVEL) -> MeanInterval:
    """Student-t interval of the mean of ``values`` (one per seed); infinite with one value."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError(f"t_interval needs at least one value, all finite; got {v.tolist()}")
    mean = float(v.mean())
    if v.size == 1:
        return MeanInterval(mean, -math.inf, math.inf, math.nan, 1)
    sd = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2.0, v.size - 1)) * sd / math.sqrt(v.size)
    return MeanInterval(mean, mean - half, mean + half, sd, int(v.size))


def t_bounds(values, level: float = LEVEL):
    """(mean, low, high) of the Student-t interval along the last axis of ``values``
    (one data set of per-seed values per row; at least 2 values each)."""
    v = np.asarray(values, dtype=np.float64)
    k = v.shape[-1]
    mean = v.mean(axis=-1)
    half = float(stats.t.ppf(0.5 + level / 2.0, k - 1)) * v.std(axis=-1, ddof=1) / math.sqrt(k)
    return mean, mean - half, mean + half


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
    """How often a decision rule says "held" at the design it was applied to.

    false_held_rate: share of "held" when the truth is ``false_scenario`` (a false claim);
    power: share of "held" when the truth is ``true_scenario``; replicates: simulations each.
    """

    false_held_rate: float
    power: float
    replicates: int
    false_scenario: str
    true_scenario: str


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

    held: not flat (below), b of the log law > 0 (interval above 0), the exponent interval inside
    (-LOG_LIKE_EXPONENT, LOG_LIKE_EXPONENT), and log better than sqrt and linear by at least
    STRONG_BIC. did not hold: growth faster than log (exponent interval above
    LOG_LIKE_EXPONENT, or sqrt/linear better than log by STRONG_BIC), saturating (interval
    below -LOG_LIKE_EXPONENT), falling (b's interval below 0) or flat (the whole interval of
    b ln(m_max/m_min), the log law's change over the measured range, within
    FLAT_FRACTION of the mean T). indistinguishable otherwise. With ``censored`` data (some T* beyond the budget, entered at the budget),
    only "faster than log" can be concluded, since censoring hides growth.
    """
    reasons = growth_reasons(fits)
    faster = reasons["faster than log"]
    slower = reasons["slower than log"] | reasons["falling"] | reasons["flat"]
    held = (
        ~reasons["flat"]
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
    "faster than log" (exponent interval above LOG_LIKE_EXPONENT, or sqrt or linear better than
    log by STRONG_BIC), "slower than log" (exponent interval below -LOG_LIKE_EXPONENT), "falling"
    (b's interval below 0) and "flat" (the log law's change over the range within FLAT_FRACTION
    of the mean T). Several can be true at once."""
    return {
        "faster than log": (fits.c_low > LOG_LIKE_EXPONENT)
        | (np.minimum(fits.bic["sqrt"], fits.bic["linear"]) <= fits.bic["log"] - STRONG_BIC),
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
