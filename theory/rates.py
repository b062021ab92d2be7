"""Rate fitting of one curve: power laws, exponentials, model comparison, local slopes.

All fits are ordinary least squares in the space named by each function (log-log for
power laws, semi-log for exponentials). Confidence intervals are two-sided 95% intervals
from the t distribution with (points - parameters) degrees of freedom, assuming
independent Gaussian residuals in that space; they are a guide to the fit's precision,
not a statement about the seeds (intervals over seeds, growth laws T*(m) and the verdicts
built on them are in ``theory.inference`` and ``theory.claims``). Results are frozen
dataclasses of plain numbers.

Information criteria use Gaussian log-likelihoods of the residuals:
``AIC = k ln(RSS/k) + 2p`` and ``BIC = k ln(RSS/k) + p ln k`` for k points, p parameters.
Lower is better; a difference below about 2 is not evidence either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "PowerLawFit",
    "ExponentialFit",
    "LawFit",
    "LawComparison",
    "LocalSlopes",
    "fit_power_law",
    "fit_exponential",
    "compare_laws",
    "local_slopes",
    "CANDIDATE_LAWS",
]

CANDIDATE_LAWS = ("inverse", "inverse_square", "log_over_n", "exponential")


def _pair(x, y, *, min_points: int, positive_y: bool = True, positive_x: bool = True):
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must have the same length, got {xa.size} and {ya.size}")
    if xa.size < min_points:
        raise ValueError(f"need at least {min_points} points, got {xa.size}")
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
        raise ValueError("x and y must be finite")
    if positive_x and np.any(xa <= 0):
        raise ValueError("x values must be positive")
    if positive_y and np.any(ya <= 0):
        raise ValueError("y values must be positive (fits are on log values)")
    if np.unique(xa).size < 2:
        raise ValueError("x must take at least two distinct values")
    return xa, ya


@dataclass(frozen=True)
class _Line:
    slope: float
    intercept: float
    slope_ci: tuple[float, float]
    r_squared: float
    rss: float
    points: int


def _linear_fit(x: np.ndarray, y: np.ndarray) -> _Line:
    k = x.size
    xm, ym = x.mean(), y.mean()
    sxx = float(np.sum((x - xm) ** 2))
    slope = float(np.sum((x - xm) * (y - ym)) / sxx)
    intercept = float(ym - slope * xm)
    resid = y - (intercept + slope * x)
    rss = float(np.sum(resid**2))
    tss = float(np.sum((y - ym) ** 2))
    r2 = 1.0 - rss / tss if tss > 0 else 1.0
    if k > 2:
        se = math.sqrt(rss / (k - 2) / sxx)
        half = float(stats.t.ppf(0.975, k - 2)) * se
    else:
        half = math.inf
    return _Line(slope, intercept, (slope - half, slope + half), r2, rss, k)


@dataclass(frozen=True)
class PowerLawFit:
    """``loss ~ c * n^slope`` fitted in log-log space; ``log_c`` is the intercept."""

    slope: float
    log_c: float
    slope_ci: tuple[float, float]
    r_squared: float
    points: int


@dataclass(frozen=True)
class ExponentialFit:
    """``loss ~ c * exp(slope * n)``; ``contraction = exp(slope)`` is the per-step factor."""

    slope: float
    log_c: float
    slope_ci: tuple[float, float]
    contraction: float
    contraction_ci: tuple[float, float]
    r_squared: float
    points: int


def fit_power_law(n, loss) -> PowerLawFit:
    """Least-squares line through (ln n, ln loss); needs >= 3 points, positive values."""
    x, y = _pair(n, loss, min_points=3)
    line = _linear_fit(np.log(x), np.log(y))
    return PowerLawFit(line.slope, line.intercept, line.slope_ci, line.r_squared, line.points)


def fit_exponential(n, loss) -> ExponentialFit:
    """Least-squares line through (n, ln loss); needs >= 3 points, positive losses."""
    x, y = _pair(n, loss, min_points=3, positive_x=False)
    line = _linear_fit(x, np.log(y))
    lo, hi = line.slope_ci
    return ExponentialFit(
        line.slope,
        line.intercept,
        line.slope_ci,
        math.exp(line.slope),
        (math.exp(lo), math.exp(hi)),
        line.r_squared,
        line.points,
    )


@dataclass(frozen=True)
class LawFit:
    """One candidate law fitted on log values: its parameters, RSS, AIC and BIC."""

    name: str
    params: tuple[float, ...]
    rss: float
    aic: float
    bic: float


@dataclass(frozen=True)
class LawComparison:
    """Candidate laws ranked by ``criterion``; ``best`` is the name of the winner and
    ``margin`` how much lower its criterion is than the runner-up's."""

    best: str
    criterion: str
    margin: float
    fits: tuple[LawFit, ...]

    def fit(self, name: str) -> LawFit:
        for f in self.fits:
            if f.name == name:
                return f
        raise KeyError(name)


def _criteria(rss: float, k: int, p: int) -> tuple[float, float]:
    # A perfect fit has rss 0; floor it so the criteria stay finite.
    ll = k * math.log(max(rss, 1e-300) / k)
    return ll + 2 * p, ll + p * math.log(k)


def compare_laws(n, loss, criterion: str = "bic") -> LawComparison:
    """Compare ``c/n``, ``c/n^2``, ``c log(n)/n`` and ``c exp(-a n)`` on ln(loss).

    Names: ``inverse``, ``inverse_square``, ``log_over_n`` (1 parameter each: ln c) and
    ``exponential`` (2 parameters: ln c, a). Points need n >= 2 (log n must be positive)
    and loss > 0; at least 3 points.
    """
    if criterion not in ("aic", "bic"):
        raise ValueError(f"criterion must be 'aic' or 'bic', got {criterion!r}")
    x, y = _pair(n, loss, min_points=3)
    if np.any(x < 2):
        raise ValueError("compare_laws needs n >= 2 (the law c log(n)/n vanishes at n = 1)")
    ly = np.log(y)
    k = x.size
    fits = []
    for name, shape in (
        ("inverse", -np.log(x)),
        ("inverse_square", -2.0 * np.log(x)),
        ("log_over_n", np.log(np.log(x)) - np.log(x)),
    ):
        log_c = float(np.mean(ly - shape))
        rss = float(np.sum((ly - shape - log_c) ** 2))
        aic, bic = _criteria(rss, k, 1)
        fits.append(LawFit(name, (log_c,), rss, aic, bic))
    line = _linear_fit(x, ly)
    aic, bic = _criteria(line.rss, k, 2)
    fits.append(LawFit("exponential", (line.intercept, -line.slope), line.rss, aic, bic))
    key = (lambda f: f.bic) if criterion == "bic" else (lambda f: f.aic)
    ranked = sorted(fits, key=key)
    return LawComparison(ranked[0].name, criterion, key(ranked[1]) - key(ranked[0]), tuple(fits))


@dataclass(frozen=True)
class LocalSlopes:
    """Log-log slope of a sliding window of ``window`` points, at the window's centre
    (geometric mean of its n)."""

    n: tuple[float, ...]
    slope: tuple[float, ...]


def local_slopes(n, loss, window: int = 5) -> LocalSlopes:
    """Local log-log slopes (OLS over each run of ``window`` consecutive points, sorted by n)."""
    if int(window) != window or window < 2:
        raise ValueError(f"window must be an integer >= 2, got {window!r}")
    x, y = _pair(n, loss, min_points=int(window))
    order = np.argsort(x)
    lx, ly = np.log(x[order]), np.log(y[order])
    centres, slopes = [], []
    for s in range(0, x.size - int(window) + 1):
        wx, wy = lx[s : s + int(window)], ly[s : s + int(window)]
        if np.ptp(wx) == 0:
            continue
        centres.append(float(math.exp(wx.mean())))
        slopes.append(_linear_fit(wx, wy).slope)
    return LocalSlopes(tuple(centres), tuple(slopes))
