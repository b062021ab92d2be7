"""The source papers' claims as predicates over tidy experiment results.

A result set is any iterable of mappings (for example the rows of a CSV read with
``csv.DictReader``, or a list of dicts) with the columns

    experiment, dataset, method, m, n, seed, metric, value

``m`` is the number of training samples, ``n`` the subnetwork size (may be empty for rows
that do not depend on n), ``value`` a number. Strings from a CSV are converted. Each
predicate filters rows by the keyword arguments it is given (``None`` = any value) and
returns a :class:`Verdict`. The metrics each predicate reads are listed in its docstring;
the experiment writer produces them under exactly these names:

=================  ===========================================================  ==============
metric             meaning                                                      read by
=================  ===========================================================  ==============
``train_loss``     L(f_n) = 0.5 mean_j ||f_n(x_j) - y_j||^2 of a width-n net     pruned_beats_direct_training
``excess_loss``    L(f_n) - L(g), g = projection of Y onto aff(M) (or 0.5||f_n-g||^2)  gfs_inverse_square_rate, reweighted_greedy_exponential
``r``              interior radius of g in M (exact or a certified lower bound)  both rate claims (n empty)
``D``              diameter of M                                                 both rate claims (n empty)
``D_g``            max_i ||phi_i - g||                                           gfs_inverse_square_rate (n empty)
``pretrain_steps`` smallest T after which GFS reaches the target loss (may be inf)  pretraining_grows_logarithmically
=================  ===========================================================  ==============

Geometry rows (``r``, ``D``, ``D_g``) are matched to loss rows with the same experiment,
dataset, m and seed; their ``method`` is ignored.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from theory import bounds, rates

__all__ = [
    "Verdict",
    "filter_rows",
    "pruned_beats_direct_training",
    "gfs_inverse_square_rate",
    "reweighted_greedy_exponential",
    "pretraining_grows_logarithmically",
]

COLUMNS = ("experiment", "dataset", "method", "m", "n", "seed", "metric", "value")


@dataclass(frozen=True)
class Verdict:
    """Outcome of one claim: ``held`` is True/False, or None when the data cannot test it."""

    claim: str
    held: bool | None
    summary: str
    numbers: dict[str, float] = field(default_factory=dict)


def _num(x):
    if x is None or x == "":
        return None
    return float(x)


def _rows(rows: Iterable[Mapping]) -> list[dict]:
    out = []
    for i, row in enumerate(rows):
        missing = [c for c in ("metric", "value") if c not in row]
        if missing:
            raise ValueError(f"row {i} lacks the column(s) {missing}; expected columns {COLUMNS}")
        d = dict(row)
        d["value"] = float(d["value"])
        for c in ("m", "n"):
            d[c] = _num(d.get(c))
        d.setdefault("seed", None)
        out.append(d)
    return out


def filter_rows(rows: Iterable[Mapping], **equal) -> list[dict]:
    """Rows whose columns equal the given values (a value of None matches anything).

    Numeric columns (m, n) compare as numbers, others as strings.
    """
    out = []
    for row in _rows(rows):
        keep = True
        for key, want in equal.items():
            if want is None:
                continue
            have = row.get(key)
            if key in ("m", "n"):
                keep = have is not None and float(have) == float(want)
            else:
                keep = str(have) == str(want)
            if not keep:
                break
        if keep:
            out.append(row)
    return out


def _curve(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Mean value per n (over seeds), sorted by n; rows without n are skipped."""
    acc = defaultdict(list)
    for row in rows:
        if row["n"] is not None:
            acc[row["n"]].append(row["value"])
    ns = np.array(sorted(acc))
    return ns, np.array([np.mean(acc[k]) for k in ns])


def pruned_beats_direct_training(
    rows,
    *,
    pruned_method: str = "gfs",
    direct_method: str = "direct-gd",
    metric: str = "train_loss",
    experiment=None,
    dataset=None,
    m=None,
) -> Verdict:
    """ICML'20: the pruned network beats training the same width directly, beyond a size.

    Reads ``metric`` (default ``train_loss``) rows of ``pruned_method`` and
    ``direct_method``, averaged over seeds at each n both methods share (>= 2 sizes).
    Held when the pruned curve is below the direct one at the largest shared n; the
    crossover is the last size where the curves cross (None if the pruned network is
    better at every measured n). With >= 2 seeds paired at the largest n, the verdict is
    None ("indistinguishable") when the mean log-ratio of the two losses lies within its 95%
    interval over seeds. Also reports both log-log slopes when >= 3 sizes.
    """
    claim = "pruned beats direct training beyond a crossover size"
    base = dict(experiment=experiment, dataset=dataset, m=m, metric=metric)
    n_p, l_p = _curve(filter_rows(rows, method=pruned_method, **base))
    n_d, l_d = _curve(filter_rows(rows, method=direct_method, **base))
    common = np.intersect1d(n_p, n_d)
    if common.size < 2:
        return Verdict(claim, None, f"fewer than 2 sizes n shared by {pruned_method} and {direct_method}")
    lp = l_p[np.isin(n_p, common)]
    ld = l_d[np.isin(n_d, common)]
    if np.any(lp <= 0) or np.any(ld <= 0):
        return Verdict(claim, None, "losses must be positive to compare on a log scale")
    cross = rates.crossover(common, lp, ld)
    numbers = {
        "n_max": float(common[-1]),
        "pruned_loss_at_n_max": float(lp[-1]),
        "direct_loss_at_n_max": float(ld[-1]),
        "crossover_n": math.nan if cross.n_cross is None else cross.n_cross,
        "crossings": float(len(cross.crossings)),
    }
    if common.size >= 3:
        numbers["pruned_slope"] = rates.fit_power_law(common, lp).slope
        numbers["direct_slope"] = rates.fit_power_law(common, ld).slope
    held = cross.a_below_at_end
    gap = _paired_log_gap(filter_rows(rows, n=common[-1], **base), pruned_method, direct_method)
    if gap is not None:
        numbers.update(log_gap_at_n_max=gap[0], log_gap_halfwidth=gap[1])
        if abs(gap[0]) <= gap[1]:
            return Verdict(
                claim, None,
                f"indistinguishable at n={common[-1]:g}: {pruned_method} {lp[-1]:.4g} vs {direct_method} {ld[-1]:.4g} "
                f"(log-ratio {gap[0]:+.3f} within its 95% seed interval +-{gap[1]:.3f})",
                numbers,
            )
    if not held:
        summary = f"{direct_method} is lower than {pruned_method} at n={common[-1]:g}"
    elif cross.n_cross is None:
        summary = f"{pruned_method} is lower at every measured n ({common[0]:g}..{common[-1]:g})"
    else:
        summary = f"{pruned_method} is lower than {direct_method} for n above ~{cross.n_cross:.4g}"
    return Verdict(claim, held, summary, numbers)


def _paired_log_gap(rows_at_n: list[dict], pruned_method: str, direct_method: str):
    """(mean, 95% half-width) over seeds of ln(pruned) - ln(direct) at one n, pairing rows by
    seed; None with fewer than 2 paired seeds or a non-positive loss."""
    by_seed: dict = defaultdict(dict)
    for row in rows_at_n:
        by_seed[row.get("seed")][str(row.get("method"))] = row["value"]
    pairs = [(v[pruned_method], v[direct_method]) for v in by_seed.values() if pruned_method in v and direct_method in v]
    if len(pairs) < 2 or any(a <= 0 or b <= 0 for a, b in pairs):
        return None
    diffs = np.log([a for a, _ in pairs]) - np.log([b for _, b in pairs])
    return float(diffs.mean()), float(1.96 * diffs.std(ddof=1) / math.sqrt(len(diffs)))


def _geometry(rows: list[dict], key) -> dict[str, float]:
    out = {}
    for row in rows:
        if row["metric"] in ("r", "D", "D_g") and _group_key(row) == key:
            out[row["metric"]] = row["value"]
    return out


def _group_key(row):
    return (row.get("experiment"), row.get("dataset"), row["m"], row.get("seed"))


def _groups(rows: list[dict], method: str, metric: str):
    groups = defaultdict(list)
    for row in rows:
        if row["metric"] == metric and str(row.get("method")) == method and row["n"] is not None:
            groups[_group_key(row)].append(row)
    return groups


def _aggregate(claim: str, results: list[tuple[bool | None, str, dict]]) -> Verdict:
    tested = [r for r in results if r[0] is not None]
    numbers: dict[str, float] = {"groups": float(len(results)), "groups_tested": float(len(tested))}
    for i, (_, _, nums) in enumerate(results):
        for k, v in nums.items():
            numbers[f"{k}[{i}]"] = v
    if not tested:
        why = results[0][1] if results else "no matching rows"
        return Verdict(claim, None, f"not testable: {why}", numbers)
    failed = [r for r in tested if not r[0]]
    if failed:
        return Verdict(claim, False, f"{len(failed)}/{len(tested)} groups fail; first: {failed[0][1]}", numbers)
    return Verdict(claim, True, f"all {len(tested)} groups hold; e.g. {tested[0][1]}", numbers)


def gfs_inverse_square_rate(
    rows,
    *,
    method: str = "gfs",
    metric: str = "excess_loss",
    tolerance: float = 0.2,
    n_min: float | None = None,
    experiment=None,
    dataset=None,
    m=None,
) -> Verdict:
    """ICML'20 / P3: GFS's excess loss decays like 1/n^2 when the target is interior.

    Per group (experiment, dataset, m, seed): reads ``metric`` rows (default
    ``excess_loss`` = L(f_n) - L(g)) of ``method``, and the geometry rows ``r``, ``D_g``
    (and ``D``). A group is testable when r > 0 and at least 3 positive losses have
    n >= n_min (default: the largest quarter of the range, n >= n_max / 4). It fails when,
    D_g being given, a measured excess exceeds the P3 bound. Otherwise it holds when the
    log-log slope there is <= -2 + tolerance; a shallower slope fails only if the sizes
    reach ``(D/r)^2`` (THEORY.md s.4: the fast rate needs n well past it) and is "not
    testable" (None) when D is given and n_max < (D/r)^2. The verdict holds when every
    testable group holds.
    """
    claim = "GFS reaches O(1/n^2) in the interior regime"
    data = filter_rows(rows, experiment=experiment, dataset=dataset, m=m)
    results = []
    for key, grp in sorted(_groups(data, method, metric).items(), key=lambda kv: str(kv[0])):
        geo = _geometry(data, key)
        ns, ls = _curve(grp)
        r = geo.get("r")
        if r is None or r <= 0:
            results.append((None, f"group {key}: r missing or 0 (not the interior regime)", {}))
            continue
        nums = {"r": r}
        if "D" in geo:
            nums["D_over_r_squared"] = (geo["D"] / r) ** 2
        bound_ok = True
        if "D_g" in geo:
            b = bounds.gfs_interior_bound(ns, geo["D_g"], r)
            ratio = float(np.max(ls / b))
            nums["max_excess_over_P3_bound"] = ratio
            bound_ok = ratio <= 1.0 + 1e-9
        lo = ns.max() / 4.0 if n_min is None else n_min
        sel = (ns >= lo) & (ls > 0)
        if sel.sum() < 3:
            results.append((None, f"group {key}: fewer than 3 positive losses with n >= {lo:g}", nums))
            continue
        fit = rates.fit_power_law(ns[sel], ls[sel])
        nums.update(slope=fit.slope, slope_ci_low=fit.slope_ci[0], slope_ci_high=fit.slope_ci[1])
        fast = fit.slope <= -2.0 + tolerance
        text = f"group {key}: slope {fit.slope:.3f} for n in [{ns[sel][0]:g}, {ns[sel][-1]:g}]"
        if not bound_ok:
            results.append((False, text + " and the P3 bound is violated", nums))
        elif not fast and "D" in geo and ns.max() < nums["D_over_r_squared"]:
            # Shallower than 1/n^2 before n reaches (D/r)^2: the regime is not reached yet.
            results.append((None, text + f", but n_max < (D/r)^2 = {nums['D_over_r_squared']:.3g}", nums))
        else:
            results.append((fast, text, nums))
    return _aggregate(claim, results)


def reweighted_greedy_exponential(
    rows,
    *,
    method: str = "fw",
    metric: str = "excess_loss",
    floor: float = 1e-12,
    experiment=None,
    dataset=None,
    m=None,
) -> Verdict:
    """NeurIPS'20 / P4: re-weighted greedy decays exponentially, at least as fast as the bound.

    Per group (experiment, dataset, m, seed): reads ``metric`` rows (default
    ``excess_loss``) of ``method`` (fw, fcfw, greedy-opt) and the geometry rows ``r`` and
    ``D``. Points whose excess is below ``floor`` times the first one are dropped
    (float64 floor). Testable when r > 0 and >= 3 points with n >= 2 remain. Holds when
    the exponential law wins the information-criterion comparison against c/n, c/n^2,
    c log(n)/n, and the fitted contraction per step is <= the bound ``1 - r^2/D^2``. A group
    whose curve is not (yet) log-linear but respects the bound, with n_max < (D/r)^2, is not
    testable (None) rather than failed: the bound there is nearly flat and promises no visible
    exponential regime.
    The verdict holds when every testable group holds.
    """
    claim = "re-weighted greedy is exponential with contraction no worse than 1 - r^2/D^2"
    data = filter_rows(rows, experiment=experiment, dataset=dataset, m=m)
    results = []
    for key, grp in sorted(_groups(data, method, metric).items(), key=lambda kv: str(kv[0])):
        geo = _geometry(data, key)
        ns, ls = _curve(grp)
        r, d = geo.get("r"), geo.get("D")
        if r is None or d is None or r <= 0:
            results.append((None, f"group {key}: r or D missing, or r = 0", {}))
            continue
        bound_q = bounds.reweighted_contraction(r, d)
        nums = {"r": r, "D": d, "bound_contraction": bound_q}
        first = ls[0] if ls.size else 0.0
        sel = (ns >= 2) & (ls > floor * first)
        if first <= 0 or sel.sum() < 3:
            results.append((None, f"group {key}: fewer than 3 usable points above the float floor", nums))
            continue
        fit = rates.fit_exponential(ns[sel], ls[sel])
        law = rates.compare_laws(ns[sel], ls[sel])
        nums.update(contraction=fit.contraction, best_law_margin=law.margin)
        ok = law.best == "exponential" and fit.contraction <= bound_q + 1e-12
        text = (
            f"group {key}: contraction {fit.contraction:.4g} vs bound {bound_q:.4g}, "
            f"best law {law.best}"
        )
        boundary = (d / r) ** 2
        if law.best != "exponential" and fit.contraction <= bound_q + 1e-12 and ns[sel][-1] < boundary:
            # P4 only promises the (here nearly flat) bound; the log-linear regime needs n >> (D/r)^2
            ok = None
            text += f"; n_max {ns[sel][-1]:g} < (D/r)^2 = {boundary:.3g}: exponential regime not reached, bound respected"
        results.append((ok, text, nums))
    return _aggregate(claim, results)


def pretraining_grows_logarithmically(
    rows,
    *,
    metric: str = "pretrain_steps",
    method=None,
    experiment=None,
    dataset=None,
    min_margin: float = 2.0,
) -> Verdict:
    """Wolfe et al. / P6: the pre-training needed, T*(m), grows like log m.

    Reads ``metric`` rows (default ``pretrain_steps``; value = smallest T at which GFS
    reached the target loss, inf if never) per dataset size m, averaged over seeds; m
    values with any infinite T* are dropped (and counted). Needs >= 3 sizes. Fits
    ``a + b ln m``, ``a + b m`` and ``a m^c`` (AIC). Held when ``a + b ln m`` wins with
    b > 0 by at least ``min_margin``; False when another law wins by at least
    ``min_margin``; None (indistinguishable) otherwise.
    """
    claim = "required pre-training grows logarithmically in m"
    data = filter_rows(rows, experiment=experiment, dataset=dataset, method=method, metric=metric)
    per_m = defaultdict(list)
    for row in data:
        if row["m"] is not None:
            per_m[row["m"]].append(row["value"])
    finite = {k: v for k, v in per_m.items() if all(math.isfinite(x) for x in v)}
    numbers = {"sizes": float(len(per_m)), "sizes_unreached": float(len(per_m) - len(finite))}
    if len(finite) < 3:
        return Verdict(claim, None, f"need >= 3 dataset sizes with finite T*, have {len(finite)}", numbers)
    ms = np.array(sorted(finite))
    ts = np.array([np.mean(finite[k]) for k in ms])
    fit = rates.fit_pretraining_growth(ms, ts)
    for f in fit.fits:
        numbers[f"{f.name}_aic"] = f.aic
    a, b = fit.fit("log").params
    numbers.update(log_a=a, log_b=b, log_b_ci_low=fit.log_b_ci[0], log_b_ci_high=fit.log_b_ci[1])
    if "power" in [f.name for f in fit.fits]:
        numbers["power_exponent"] = fit.fit("power").params[1]
    if fit.margin < min_margin:
        return Verdict(
            claim, None, f"laws indistinguishable (best {fit.best}, AIC margin {fit.margin:.2f})", numbers
        )
    held = fit.best == "log" and b > 0
    return Verdict(
        claim, held, f"best law {fit.best} by AIC margin {fit.margin:.2f}; T* ~ {a:.3g} + {b:.3g} ln m", numbers
    )
