"""The t rule on per-seed values, shared by the empirical claims on a per-seed mean.

A claim that the true value of a per-seed statistic (a log loss ratio, a log-log slope, an
exponential coefficient) lies below (or above) a threshold is decided by
:func:`theory.inference.t_outcomes` on its Student-t interval over seeds, and calibrated by
:func:`theory.inference.calibrate_mean_rule` with the truth at the threshold (both error
rates) and at the claim kind's effect of interest (``EFFECTS``, power), fixed before any run.
"""

from __future__ import annotations

import math

import numpy as np

from theory.claims.verdict import Verdict
from theory.inference import ONE_SIDED_ALPHA, calibrate_mean_rule, sample_skewness, t_outcomes, t_p_value

__all__ = ["EFFECT_LOSS_RATIO", "EFFECT_SLOPE", "EFFECT_CONTRACTION", "EFFECTS", "t_rule", "t_verdict",
           "interval_text"]

# Effects of interest, fixed before any run: each claim kind's power is measured with the truth here.
EFFECT_LOSS_RATIO = 0.9  # comparisons: the better method's loss 0.9 times the other's (log-ratio ln 0.9)
EFFECT_SLOPE = -2.0  # the 1/n^2 rule and "fast beyond (D/r)^2": a log-log slope of -2
EFFECT_CONTRACTION = 0.5  # the exponential rule: h falls by a factor 0.5 per neuron beyond any power of n
EFFECTS = {"comparison": math.log(EFFECT_LOSS_RATIO), "slope": EFFECT_SLOPE,
           "exponential": math.log(EFFECT_CONTRACTION)}


def t_rule(threshold: float, claimed: str = "below", groups: int = 1, skew: float = 0.0):
    """The t rule of :func:`theory.inference.t_outcomes` against ``threshold`` on one data set (a
    string) or a batch of rows (an array of outcomes); with ``groups`` > 1 its "did not hold" is
    at level ONE_SIDED_ALPHA / groups (Bonferroni: a claim over k groups fails when any does);
    ``skew``: the per-seed noise's skewness its critical values allow for."""
    def decide(values):
        outcome = t_outcomes(values, threshold, claimed, not_held_alpha=ONE_SIDED_ALPHA / groups, skew=skew)
        return str(outcome) if outcome.ndim == 0 else outcome

    return decide


def t_verdict(claim: str, values, threshold: float, text: str, numbers: dict, *, effect: float, null: str,
              alternative: str, claimed: str = "below", groups: int = 1) -> Verdict:
    """The verdict of the t rule on per-seed ``values`` against ``threshold``, its critical values
    allowing for the values' sample skewness (:func:`theory.inference.t_outcomes`), calibrated at
    the threshold (both error rates) and at ``effect`` (power) by :func:`calibrate_mean_rule`
    (whose simulations are seeded apart from those behind the critical values). ``numbers``
    gains the one-sided Student-t p-value of "did not hold" (p_did_not_hold) and the skewness."""
    values = np.asarray(values, dtype=np.float64)
    skew = sample_skewness(values)
    decide = t_rule(threshold, claimed, groups, skew)
    numbers = dict(numbers, p_did_not_hold=t_p_value(values, threshold, claimed), seed_skewness=skew)
    verdict = Verdict(claim, decide(values), text, numbers, seeds=int(values.size))
    return verdict.with_calibration(calibrate_mean_rule(decide, values, [threshold], effect, null=null,
                                                        alternative=alternative))


def interval_text(iv) -> str:
    """A :class:`theory.inference.MeanInterval` as evidence text: ``mean [low, high]``, 3 digits."""
    return f"{iv.mean:.3g} [{iv.low:.3g}, {iv.high:.3g}]"
