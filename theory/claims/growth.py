"""Growth laws (Wolfe et al.): does the required pre-training T*(m) grow like log m?

:func:`growth_law_verdict` decides it in five steps, one function each:
:func:`growth_sizes` (which sizes enter: enough seeds, above the floor T* = 0),
:func:`growth_design` (the points, with T* not reached within the budget entered at it),
:func:`growth_decisions` (the fit rule of :func:`theory.inference.growth_outcomes` behind a
seed-bootstrap gate), :func:`growth_evidence` (the numbers and the sentence) and
:func:`growth_calibration` (both error rates and the power at the design).
:func:`pretraining_grows_logarithmically` reads T* off result rows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from theory.claims.rows import PRETRAIN_STEPS, filter_rows
from theory.claims.verdict import Verdict, not_testable
from theory.inference import (BOOTSTRAP_AGREEMENT, FLAT_FRACTION, LOG_LIKE_EXPONENT, MIN_SEEDS, Calibration,
                              GrowthFits, bootstrap_columns, growth_fits, growth_outcomes, growth_reasons)

__all__ = ["GROWTH_MIN_SIZES", "GROWTH_CALIBRATION_RESAMPLES", "GROWTH_CHANGE_GRID", "GrowthSizes", "GrowthDesign",
           "growth_sizes", "growth_design", "growth_decisions", "growth_evidence", "growth_calibration",
           "growth_law_verdict", "pretraining_grows_logarithmically"]

GROWTH_MIN_SIZES = 4  # sizes (each with >= MIN_SEEDS seeds, above the floor) a growth law needs
GROWTH_CALIBRATION_RESAMPLES = 50  # seed resamples of the bootstrap gate inside each calibration replicate
GROWTH_CHANGE_GRID = (2.0, 8.0, 32.0)  # boundary laws: total change over the sizes, in units of the noise sd


@dataclass(frozen=True)
class GrowthSizes:
    """The sizes a growth law is fitted to, and those left out.

    kept: [(m, T* per seed)] in ascending m, each with >= MIN_SEEDS seeds, the leading floor
    sizes removed (when not testable: the sizes examined so far); too_few: the sizes with fewer than MIN_SEEDS seeds (in the given order);
    floor_sizes: the smallest sizes where every seed has T* = 0 (ascending); seeds: the fewest
    seeds at a kept size, or, when not testable, at a size with >= MIN_SEEDS seeds (0 if none);
    why_not_testable: the reason no verdict can be given, "" when one can.
    """

    kept: list
    too_few: list
    floor_sizes: list
    seeds: int
    why_not_testable: str = ""


@dataclass(frozen=True)
class GrowthDesign:
    """The points of a growth-law fit, one per (size, seed).

    m_points, values: arrays (points,) of the size m and T* of each point, a T* not reached
    (inf) entered at ``cap``; groups: per size, the indices of its points (the seed bootstrap
    resamples inside each); censored: some T* was not reached; censored_points: how many;
    cap: the budget (``censor_at``) or, without one, the largest finite T* (nan when there is
    none); sizes: how many sizes; seeds: the fewest seeds at a size.
    """

    m_points: np.ndarray
    values: np.ndarray
    groups: list
    censored: bool
    censored_points: int
    cap: float
    sizes: int
    seeds: int


def growth_sizes(m_values, t_by_seed) -> GrowthSizes:
    """Which sizes enter a growth law: those with >= MIN_SEEDS seeds, without the smallest sizes
    where every seed has T* = 0 (the measurement's floor: any law that grows, clipped at 0, shows
    them, and entered at 0 they bend a log law into "faster than log"). Not testable with fewer
    than GROWTH_MIN_SIZES sizes before or after removing the floor, or with T* = 0 everywhere
    (the criterion met before any training: no growth to measure). ``m_values``: the sizes;
    ``t_by_seed``: per size, its per-seed T* (any sequence of floats, inf = not reached)."""
    sizes = [(float(mv), np.asarray(t, dtype=np.float64)) for mv, t in zip(m_values, t_by_seed)]
    too_few = [mv for mv, t in sizes if t.size < MIN_SEEDS]
    sizes = [(mv, t) for mv, t in sizes if t.size >= MIN_SEEDS]
    seeds = min((t.size for _, t in sizes), default=0)
    if len(sizes) < GROWTH_MIN_SIZES:
        few = f" (too few seeds at m = {', '.join(f'{x:g}' for x in too_few)})" if too_few else ""
        return GrowthSizes(sizes, too_few, [], seeds,
                           f"{len(sizes)} size(s) with >= {MIN_SEEDS} seeds; need {GROWTH_MIN_SIZES}{few}")
    if all(np.all(t == 0) for _, t in sizes):
        return GrowthSizes(sizes, too_few, [], seeds, "T* = 0 at every size and seed: the criterion is met before "
                           "any training, so there is no growth to measure (a stricter criterion would give one)")
    sizes.sort(key=lambda size: size[0])
    leading = 0
    while np.all(sizes[leading][1] == 0):
        leading += 1
    floor_sizes = [mv for mv, _ in sizes[:leading]]
    sizes = sizes[leading:]
    if len(sizes) < GROWTH_MIN_SIZES:
        return GrowthSizes(sizes, too_few, floor_sizes, seeds,
                           f"{len(sizes)} size(s) above the floor T* = 0; need {GROWTH_MIN_SIZES} (at m = "
                           f"{', '.join(f'{x:g}' for x in floor_sizes)} every seed met the criterion before any "
                           "training, which any growth law clipped at 0 shows)")
    return GrowthSizes(sizes, too_few, floor_sizes, min(t.size for _, t in sizes))


def growth_design(sizes: GrowthSizes, censor_at: float | None = None) -> GrowthDesign:
    """The points of the kept sizes, a T* not reached (not finite) entered at the budget
    ``censor_at`` (a lower bound), or without a budget at the largest finite T*."""
    kept = sizes.kept
    finite_max = max((float(t[np.isfinite(t)].max()) for _, t in kept if np.isfinite(t).any()), default=math.nan)
    censored = any(not np.all(np.isfinite(t)) for _, t in kept)
    cap = censor_at if censor_at is not None else finite_max
    m_points = np.concatenate([np.full(t.size, mv) for mv, t in kept])
    values = np.concatenate([np.where(np.isfinite(t), t, cap) for _, t in kept])
    groups, start = [], 0
    for _, t in kept:
        groups.append(np.arange(start, start + t.size))
        start += t.size
    censored_points = int((~np.isfinite(np.concatenate([t for _, t in kept]))).sum())
    return GrowthDesign(m_points, values, groups, censored, censored_points, cap, len(kept), sizes.seeds)


def growth_decisions(m_points, values, groups, censored, resamples, rng):
    """Decision per column of values (k, R), with the bootstrap gate: a decisive outcome
    stands only if it recurs in >= BOOTSTRAP_AGREEMENT of ``resamples`` seed resamples."""
    base = growth_outcomes(growth_fits(m_points, values), censored=censored)
    if resamples == 0:
        return base, np.ones(base.shape)
    index = bootstrap_columns(groups, resamples, rng)  # (k, B)
    boot = values[index]  # (k, B, R)
    k, b, r = boot.shape
    outcomes = growth_outcomes(growth_fits(m_points, boot.reshape(k, b * r)), censored=censored).reshape(b, r)
    agreement = np.mean(outcomes == base[None, :], axis=0)
    final = np.where((base != "indistinguishable") & (agreement < BOOTSTRAP_AGREEMENT), "indistinguishable", base)
    return final, agreement


def _did_not_hold_because(fits: GrowthFits, censored: bool) -> str:
    """Which rules of "did not hold" fired on the one column of ``fits``, as evidence text (under
    censoring only "faster than log" can decide)."""
    flags = {name: bool(flag[0]) for name, flag in growth_reasons(fits).items()}
    if censored:  # censoring hides growth: only "faster than log" can decide
        flags = {"faster than log": flags["faster than log"]}
    # the "faster" tests compare shapes, so a curve that falls steeply passes them too: say which
    falling = float(fits.b["log"][0]) < 0
    faster = "falls more steeply than log m would (b < 0)" if falling else "grows faster than log m"
    return "; did not hold because T* " + " and ".join(
        {"faster than log": faster, "slower than log": "grows slower than log m (saturates)",
         "falling": "falls with more data (b < 0)", "flat": "hardly changes (flat)"}[name]
        for name, flag in flags.items() if flag)


def growth_evidence(sizes: GrowthSizes, design: GrowthDesign, fits: GrowthFits, outcome: str, agreement: float,
                    resamples: int) -> tuple[dict[str, float], str]:
    """The numbers and the summary of a growth-law verdict: the log law's a and b with b's
    interval, the Box-Cox exponent c with its interval, the BIC differences of sqrt m and m
    against log m, the share ``agreement`` of ``resamples`` seed resamples agreeing with
    ``outcome``, what was censored or left out (``sizes``) and, for "did not hold", which rule
    fired. ``fits``: the fit of the design's one column."""
    numbers = {"sizes": float(design.sizes), "points": float(design.values.size),
               "censored_points": float(design.censored_points), "log_a": float(fits.a["log"][0]),
               "log_b": float(fits.b["log"][0]), "log_b_low": float(fits.b_log_low[0]),
               "log_b_high": float(fits.b_log_high[0]), "exponent_c": float(fits.c[0]),
               "exponent_low": float(fits.c_low[0]), "exponent_high": float(fits.c_high[0]),
               "bic_sqrt_minus_log": float(fits.bic["sqrt"][0] - fits.bic["log"][0]),
               "bic_linear_minus_log": float(fits.bic["linear"][0] - fits.bic["log"][0]),
               "bootstrap_agreement": float(agreement)}
    c_text = (f"exponent c = {fits.c[0]:.2f} [{fits.c_low[0]:.2f}, {fits.c_high[0]:.2f}] in a + b(m^c-1)/c "
              f"(c = 0 is log m)")
    a_log, b_log = float(fits.a["log"][0]), float(fits.b["log"][0])
    text = (f"T* ≈ {a_log:.3g} {'-' if b_log < 0 else '+'} {abs(b_log):.3g} ln m (b in [{fits.b_log_low[0]:.3g}, "
            f"{fits.b_log_high[0]:.3g}]); {c_text}; BIC of sqrt m and of m minus BIC of log m: "
            f"{numbers['bic_sqrt_minus_log']:.1f}, {numbers['bic_linear_minus_log']:.1f}; "
            f"{agreement:.0%} of {resamples} seed resamples agree; {design.sizes} sizes × ≥{design.seeds} seeds")
    if design.censored:
        text += f"; {design.censored_points} T* beyond the budget entered at {design.cap:g} (lower bounds)"
    if sizes.too_few:
        text += f"; sizes with < {MIN_SEEDS} seeds left out: {', '.join(f'{x:g}' for x in sizes.too_few)}"
    if sizes.floor_sizes:
        text += ("; sizes with T* = 0 at every seed (the floor), left out: "
                 f"{', '.join(f'{x:g}' for x in sizes.floor_sizes)}")
    if outcome == "did not hold":
        text += _did_not_hold_because(fits, design.censored)
    numbers["floor_sizes"] = float(len(sizes.floor_sizes))
    return numbers, text


def growth_law_verdict(claim: str, m_values, t_by_seed, *, censor_at: float | None = None, resamples: int = 200,
                       calibration_replicates: int = 200, seed: int = 0) -> Verdict:
    """Wolfe et al.: the required pre-training T*(m) grows like log m.

    ``m_values``: the dataset sizes; ``t_by_seed``: for each size, its per-seed T* (inf =
    never reached within the budget ``censor_at``; such values enter at the budget, a lower
    bound, and then only "grows faster than log" can be concluded). All per-seed points are
    fitted to a + b ln m, a + b sqrt m, a + b m (BIC, 2 parameters) and the Box-Cox family
    a + b (m^c - 1)/c (c fitted, with a profile interval). "held": b's interval above 0 with
    growth significantly beyond flat (its lower end times ln(m_max/m_min) above 10% of the mean
    T*), c's interval inside (-0.25, 0.25), log better than sqrt and linear by ΔBIC >= 6, and the
    same outcome in >= 90% of seed-bootstrap resamples; "did not hold": growth decisively faster
    (c's interval above 0.25; a BIC preference for sqrt m or m alone is not enough), slower (c below -0.25), falling (b < 0) or
    flat (with 95% confidence the log law changes T* by at most 10% of its mean over the whole
    range of m), also bootstrap-stable; "indistinguishable" otherwise. Needs >= 4 sizes with >= MIN_SEEDS
    seeds each; "not testable" when T* = 0 everywhere (the criterion holds at initialisation: a
    measurement at its floor, not evidence of a flat law). The smallest sizes where every seed
    has T* = 0 are at that floor too (a growing law clipped at 0 shows them, and entered at 0 they
    make a log law look faster than log): they are left out, and fewer than 4 sizes above them
    is "not testable". Calibrated by :func:`growth_calibration` at the same sizes, seeds and
    per-size noise, with T* rounded, clipped at 0 and censored as measured: both error rates at
    boundary laws not fitted to the data (c = ±0.25 over a grid of sizes of change, and the flat
    boundary), power at a log law with the design's own |b|.
    """
    sizes = growth_sizes(m_values, t_by_seed)
    if sizes.why_not_testable:
        return not_testable(claim, sizes.why_not_testable, sizes.seeds)
    design = growth_design(sizes, censor_at)
    if design.censored and not math.isfinite(design.cap):
        return not_testable(claim, "T* was never reached at any size", design.seeds)
    outcome, agreement = growth_decisions(design.m_points, design.values[:, None], design.groups, design.censored,
                                          resamples, np.random.default_rng(seed))
    fits = growth_fits(design.m_points, design.values[:, None])
    numbers, text = growth_evidence(sizes, design, fits, str(outcome[0]), float(agreement[0]), resamples)
    verdict = Verdict(claim, str(outcome[0]), text, numbers, seeds=design.seeds)
    calibration = growth_calibration(design.m_points, design.values, design.groups, fits,
                                     cap=design.cap if design.censored or censor_at is not None else None,
                                     replicates=calibration_replicates,
                                     resamples=min(resamples, GROWTH_CALIBRATION_RESAMPLES), seed=seed)
    return verdict.with_calibration(calibration)


def growth_calibration(m_points, values, groups, fits, *, cap, replicates: int, resamples: int,
                       seed: int) -> Calibration:
    """Both error rates and the power of the growth-law rule at this design (sizes, seeds,
    per-size noise sd estimated from the seeds, floored at 0.1 times the pooled residual sd of
    the log law), with T* simulated as measured: rounded to a whole step, clipped at 0 (the
    criterion met at initialisation) and, with a budget ``cap``, censored there (entered at the
    cap, and the censored rule applied to every replicate with a censored point).

    Boundary truths, none fitted to the data: a + b (m^c - 1)/c with c = +0.25 and c = -0.25 (the
    edges of "log-like", which are also the edges of its negation), each with a total change
    over the sizes of GROWTH_CHANGE_GRID times the mean noise sd, and the flat boundary (a log law
    changing T* by FLAT_FRACTION of its mean over the sizes); every law has the data's mean T*
    (its level, like the noise, is a property of the design); a change below FLAT_FRACTION of the
    level (a flat law, inside the negation) is raised to it, and one that would take the law
    below 0 at some size is lowered to the largest that does not (T* >= 0). False held: the largest share of
    "held" over these truths; false did not hold: the largest share of "did not hold" over the
    c = ±0.25 truths. Power: the log law with the design's own |b| (the fitted log law's slope)."""
    rng = np.random.default_rng([seed, 99])
    resid = values - (fits.a["log"][0] + fits.b["log"][0] * np.log(m_points))
    pooled = float(np.sqrt(np.sum(resid**2) / max(values.size - 2, 1))) or 1e-9
    noise = np.concatenate([np.full(g.size, max(float(np.std(values[g], ddof=1)), 0.1 * pooled)) for g in groups])
    level = float(values.mean())

    def law(c: float, change: float) -> np.ndarray:
        shape = np.log(m_points) if c == 0 else (np.power(m_points, c) - 1.0) / c
        shape = (shape - shape.min()) / (shape.max() - shape.min())  # 0 at the smallest size, 1 at the largest
        return level + change * (shape - shape.mean())

    def outcomes(truth: np.ndarray) -> np.ndarray:
        raw = truth[:, None] + noise[:, None] * rng.standard_normal((truth.size, replicates))
        measured = np.maximum(np.rint(raw), 0.0)
        censored = np.zeros(replicates, dtype=bool)
        if cap is not None:
            censored = np.any(measured >= cap, axis=0)
            measured = np.minimum(measured, cap)
        out = np.empty(replicates, dtype=object)
        for flag in (False, True):
            columns = censored == flag
            if columns.any():
                out[columns], _ = growth_decisions(m_points, measured[:, columns], groups, flag, resamples, rng)
        return out

    scale = float(np.mean(noise))
    false_held, false_not_held = 0.0, 0.0
    for c in (LOG_LIKE_EXPONENT, -LOG_LIKE_EXPONENT):
        # T* >= 0: a law is a possible truth only while it stays >= 0 at every size
        largest = abs(level) / float(np.mean(law(c, 1.0) - law(c, 1.0).min()) or 1.0)
        smallest = FLAT_FRACTION * abs(level)  # a smaller change is flat: inside the negation, not on its edge
        for change in sorted({min(max(multiple * scale, smallest), largest) for multiple in GROWTH_CHANGE_GRID}):
            decided = outcomes(law(c, change))
            false_held = max(false_held, float(np.mean(decided == "held")))
            false_not_held = max(false_not_held, float(np.mean(decided == "did not hold")))
    flat = outcomes(law(0.0, FLAT_FRACTION * abs(level)))
    false_held = max(false_held, float(np.mean(flat == "held")))
    b_effect = abs(float(fits.b["log"][0]))
    power = float(np.mean(outcomes(law(0.0, b_effect * fits.log_range)) == "held"))
    grid = ", ".join(f"{x:g}" for x in GROWTH_CHANGE_GRID)
    return Calibration(
        false_held, power, replicates,
        f"T* follows a + b(m^c-1)/c with c = ±{LOG_LIKE_EXPONENT:g} changing by {grid} noise sd over the sizes, or a "
        f"log law changing by {FLAT_FRACTION:g} of its mean (flat), at the data's mean level, per-size noise from the "
        f"seeds; simulated as measured (whole steps, clipped at 0" + (f", censored at {cap:g})" if cap is not None
                                                                         else ")") + "; the worst",
        f"it follows a log law with the design's own |b| = {b_effect:.3g}",
        false_not_held_rate=false_not_held, effect_of_interest=b_effect)


def pretraining_grows_logarithmically(rows, *, metric: str = PRETRAIN_STEPS, dataset=None, experiment=None,
                                      method=None, censor_at: float | None = None, **equal) -> Verdict:
    """:func:`growth_law_verdict` on ``metric`` rows (one value per (m, seed); extra column
    filters such as ``eps=...`` go in ``equal``)."""
    data = filter_rows(rows, experiment=experiment, dataset=dataset, method=method, metric=metric, **equal)
    per_m = defaultdict(list)
    for row in data:
        if row["m"] is not None:
            per_m[row["m"]].append(row["value"])
    ms = sorted(per_m)
    return growth_law_verdict("required pre-training T*(m) grows like log m", ms, [per_m[x] for x in ms],
                              censor_at=censor_at)
