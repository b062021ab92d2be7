"""The verdict record every claim returns, and how the verdicts of several groups combine.

A :class:`Verdict` is one statement and what the data say about it: a theorem check
(``kind="theorem"``: "held", "violated" or "not applicable") or an empirical claim
(``kind="empirical"``: "held", "did not hold", "indistinguishable" or "not testable"), with
the calibration of its rule at the experiment's design (:meth:`Verdict.with_calibration`).
:func:`combine_groups` turns the verdicts of the groups a claim names into the claim's one
verdict; :func:`not_testable` is the verdict of a claim the data cannot test.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from theory.inference import Calibration

__all__ = ["Verdict", "THEOREM_OUTCOMES", "EMPIRICAL_OUTCOMES", "not_testable", "combine_groups"]

THEOREM_OUTCOMES = ("held", "violated", "not applicable")
EMPIRICAL_OUTCOMES = ("held", "did not hold", "indistinguishable", "not testable")


@dataclass(frozen=True)
class Verdict:
    """One statement and what the data say about it.

    outcome: one of THEOREM_OUTCOMES (kind "theorem") or EMPIRICAL_OUTCOMES ("empirical").
    seeds: how many seeds the evidence rests on. The calibration of an empirical rule at this
    design (None for theorem checks and untestable claims): false_held_rate (share of "held"
    with the truth at the claim's boundary), false_not_held_rate (share of "did not hold" at
    its negation's boundary), power (share of "held" at effect_of_interest, in the units of the
    rule's statistic), calibration_null (the truths and noise simulated, a sentence) and
    calibration_replicates. groups_tested / groups_total: how many of the groups a claim names
    were testable (a claim is "not testable" unless all were).
    """

    claim: str
    outcome: str
    summary: str
    numbers: dict[str, float] = field(default_factory=dict)
    kind: str = "empirical"
    seeds: int = 0
    false_held_rate: float | None = None
    power: float | None = None
    calibration_note: str = ""
    false_not_held_rate: float | None = None
    effect_of_interest: float | None = None
    groups_tested: int | None = None
    groups_total: int | None = None
    calibration_null: str = ""
    calibration_replicates: int | None = None

    def __post_init__(self):
        allowed = THEOREM_OUTCOMES if self.kind == "theorem" else EMPIRICAL_OUTCOMES
        if self.kind not in ("theorem", "empirical"):
            raise ValueError(f"kind must be 'theorem' or 'empirical', got {self.kind!r}")
        if self.outcome not in allowed:
            raise ValueError(f"outcome of a {self.kind} statement must be one of {allowed}, got {self.outcome!r}")

    @property
    def held(self) -> bool | None:
        """True for "held", False for "did not hold" / "violated", None otherwise."""
        return {"held": True, "did not hold": False, "violated": False}.get(self.outcome)

    def with_calibration(self, calibration: Calibration) -> "Verdict":
        """This verdict with both error rates and the power of its rule at its design."""
        numbers = dict(self.numbers, calibration_replicates=float(calibration.replicates))
        not_held = ("" if calibration.false_not_held_rate is None else
                    f"; false did not hold {calibration.false_not_held_rate:.1%}")
        note = (f"false held {calibration.false_held_rate:.1%}{not_held} if {calibration.false_scenario}; "
                f"power {calibration.power:.0%} if {calibration.true_scenario} ({calibration.replicates} simulations each)")
        return replace(self, false_held_rate=calibration.false_held_rate, power=calibration.power,
                       false_not_held_rate=calibration.false_not_held_rate,
                       effect_of_interest=calibration.effect_of_interest, calibration_null=calibration.false_scenario,
                       calibration_replicates=calibration.replicates,
                       groups_tested=1 if self.groups_tested is None else self.groups_tested,
                       groups_total=1 if self.groups_total is None else self.groups_total,
                       numbers=numbers, calibration_note=note)


def not_testable(claim: str, why: str, seeds: int = 0, numbers=None) -> Verdict:
    """The "not testable" verdict of ``claim`` over one group (none of it testable), ``why`` its summary."""
    return Verdict(claim, "not testable", why, numbers or {}, seeds=seeds, groups_tested=0, groups_total=1)


def combine_groups(claim: str, parts: list[Verdict]) -> Verdict:
    """One verdict over several groups, which the claim names all: "not testable" unless every
    group is testable (the summary says how many were); then "did not hold" if any group did
    not (each group's "did not hold" is decided at ONE_SIDED_ALPHA / groups by its caller, so
    the union keeps its level), "held" if all held, else "indistinguishable". Calibration: the
    largest false-"held" rate of a group (an intersection-union rule errs only through its
    least favourable group), false "did not hold" 1 - prod(1 - rate) over the groups (all at
    their boundary, independent), and the product of the powers."""
    tested = [v for v in parts if v.outcome != "not testable"]
    total = len(parts)
    if len(tested) < total or not tested:
        why = "; ".join(v.summary for v in parts) or "no matching rows"
        return Verdict(claim, "not testable", f"{len(tested)} of {total} groups testable, and the claim names all: {why}",
                       {}, seeds=min((v.seeds for v in tested), default=0), groups_tested=len(tested),
                       groups_total=total)
    if any(v.outcome == "did not hold" for v in tested):
        outcome = "did not hold"
    elif all(v.outcome == "held" for v in tested):
        outcome = "held"
    else:
        outcome = "indistinguishable"
    numbers = {}
    for i, v in enumerate(tested):
        numbers.update({f"{k} (group {i + 1})": x for k, x in v.numbers.items()})
    rates_false = [v.false_held_rate for v in tested if v.false_held_rate is not None]
    rates_not_held = [v.false_not_held_rate for v in tested if v.false_not_held_rate is not None]
    powers = [v.power for v in tested if v.power is not None]
    notes = [v.calibration_note for v in tested if v.calibration_note]
    effects = {v.effect_of_interest for v in tested}
    return Verdict(claim, outcome, " | ".join(v.summary for v in parts), numbers,
                   seeds=min(v.seeds for v in tested),
                   false_held_rate=max(rates_false) if rates_false else None,
                   false_not_held_rate=float(1.0 - np.prod([1.0 - r for r in rates_not_held])) if rates_not_held else None,
                   power=float(np.prod(powers)) if powers else None,
                   effect_of_interest=effects.pop() if len(effects) == 1 else None,
                   groups_tested=len(tested), groups_total=total,
                   calibration_null=(tested[0].calibration_null if total == 1 else
                                     f"each of {total} groups at its boundary: " + tested[0].calibration_null),
                   calibration_replicates=min(v.calibration_replicates or 0 for v in tested),
                   calibration_note=" | ".join(notes))
