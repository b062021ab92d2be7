"""The mathematics of greedy subnetwork selection as code (docs/THEORY.md): the bounds P1-P8, the
hull geometry, rate fitting, inference over seeds, weak submodularity, and the papers' claims as
verdicts. Never imports ``sims``; every input is numbers and arrays.

The names below are the stable public surface (``__all__``); the modules hold the rest.

>>> import theory
>>> theory.gfs_excess_bound(10, variance=1.0) > theory.gfs_excess_bound(100, variance=1.0)   # P2 falls with n
True
"""

from theory import bounds, claims, geometry, inference, rates, submodularity
from theory.bounds import (
    bound_violations,
    certificate_steps,
    gfs_excess_bound,
    gfs_interior_bound,
    gfs_realisable_bound,
    ntk_residual_bound,
    pretraining_certificate,
    pruning_margin,
    random_features_loss,
    random_features_spectrum,
    random_features_trajectory,
    required_pretraining_steps,
    reweighted_contraction,
    reweighted_greedy_bound,
)
from theory.claims import (
    Verdict,
    gfs_excess_bound_check,
    gfs_inverse_square_rate,
    growth_law_verdict,
    interior_bound_check,
    paired_improvement,
    pretraining_grows_logarithmically,
    pruned_beats_direct_training,
    pruned_beats_strongest_competitor,
    reweighted_bound_check,
    reweighted_greedy_exponential,
    slope_verdict,
    theorem_check,
)
from theory.geometry import (
    diameter,
    interior_radius,
    max_distance_to,
    neuron_variance,
    project_onto_affine_hull,
)

__all__ = [
    # modules
    "bounds", "claims", "geometry", "inference", "rates", "submodularity",
    # the bounds, P1-P8 (docs/THEORY.md section 3)
    "gfs_realisable_bound", "gfs_excess_bound", "gfs_interior_bound", "reweighted_contraction",
    "reweighted_greedy_bound", "ntk_residual_bound", "pruning_margin", "required_pretraining_steps",
    "pretraining_certificate", "certificate_steps", "random_features_spectrum", "random_features_loss",
    "random_features_trajectory", "bound_violations",
    # the constants the bounds need
    "neuron_variance", "diameter", "max_distance_to", "interior_radius", "project_onto_affine_hull",
    # verdicts (docs/THEORY.md section 7)
    "Verdict", "theorem_check", "gfs_excess_bound_check", "interior_bound_check", "reweighted_bound_check",
    "gfs_inverse_square_rate", "reweighted_greedy_exponential", "pruned_beats_direct_training",
    "pruned_beats_strongest_competitor", "paired_improvement", "growth_law_verdict",
    "pretraining_grows_logarithmically", "slope_verdict",
]
