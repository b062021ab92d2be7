"""The source papers' statements as verdicts over tidy experiment results.

Two kinds of statement are kept apart:

- **Theorem checks** (``kind="theorem"``): a proposition's inequality evaluated at every
  measured point (P2-P4 at every n, P7 at every eps, ...). Outcome "held" or "violated",
  with the worst ratio measured/bound; "not applicable" when the hypothesis is not met
  (for example r = 0 for P3/P4) or there is no point to check. A violation is a bug in the
  code or a broken assumption, never a loose theorem.
- **Empirical claims** (``kind="empirical"``): a rate, a comparison, a growth law. Outcome
  "held", "did not hold" or "indistinguishable", decided by symmetric rules on per-seed
  statistics with Student-t intervals (see ``theory.inference``), or "not testable" when
  there are fewer than ``MIN_SEEDS`` seeds or the regime is absent. Each comes with its
  calibration at the experiment's design: the false-"held" rate with the truth at the claim's
  boundary, the false-"did not hold" rate at its negation's boundary, and the power at an
  effect of interest fixed before the run (``EFFECTS``). A claim over several groups is "not
  testable" unless every group is, and says how many were.

A result set is any iterable of mappings with the columns of ``COLUMNS`` (a CSV read with
``csv.DictReader`` works: strings are converted). Metric names are the constants of
``theory.claims.rows``; the experiments write rows under exactly these names.

The submodules, by kind of verdict (each imports only those above it in this list):
``verdict`` (the record and how groups combine), ``rows`` (columns, metric names, filter,
per-seed curves), ``t_rule`` (the t rule on per-seed values and the effects of interest),
``theorems`` (theorem checks), ``comparisons`` (paired loss ratios), ``slopes`` (rates and
slopes), ``exponential`` (the nested exponential law) and ``growth`` (growth laws T*(m)).
This package re-exports their public names, so ``from theory.claims import X`` works for all.
"""

from __future__ import annotations

# Every public name of the former single module theory/claims.py, __all__ and beyond it (the
# columns and metric names, the rules' constants, tail_slopes, the nested exponential fit).

from theory.claims.comparisons import (paired_improvement, pruned_beats_direct_training,
                                       pruned_beats_strongest_competitor)
from theory.claims.exponential import (EXPONENTIAL_MIN_POINTS, nested_exponential_coefficients,
                                       reweighted_greedy_exponential)
from theory.claims.growth import (GROWTH_CALIBRATION_RESAMPLES, GROWTH_CHANGE_GRID, growth_law_verdict,
                                  pretraining_grows_logarithmically)
from theory.claims.rows import (COLUMNS, DENSE_LOSS, DIAMETER, DISTANCE_TO_G, EXCESS_LOSS, LOCAL_SLOPE,
                                PREDICTED_BOUNDARY, PRETRAIN_STEPS, PROJECTION_LOSS, RADIUS, TRAIN_LOSS, VARIANCE,
                                filter_rows)
from theory.claims.slopes import (FAST_SLOPE, RATE_WINDOW, fast_beyond_boundary, gfs_inverse_square_rate,
                                  slope_verdict, tail_slopes)
from theory.claims.t_rule import EFFECT_CONTRACTION, EFFECT_LOSS_RATIO, EFFECT_SLOPE, EFFECTS
from theory.claims.theorems import (ROUNDING, gfs_excess_bound_check, interior_bound_check, reweighted_bound_check,
                                    theorem_check)
from theory.claims.verdict import EMPIRICAL_OUTCOMES, THEOREM_OUTCOMES, Verdict

__all__ = [
    "Verdict",
    "THEOREM_OUTCOMES",
    "EMPIRICAL_OUTCOMES",
    "filter_rows",
    "theorem_check",
    "gfs_excess_bound_check",
    "interior_bound_check",
    "reweighted_bound_check",
    "pruned_beats_direct_training",
    "pruned_beats_strongest_competitor",
    "gfs_inverse_square_rate",
    "reweighted_greedy_exponential",
    "fast_beyond_boundary",
    "paired_improvement",
    "growth_law_verdict",
    "pretraining_grows_logarithmically",
    "slope_verdict",
]
