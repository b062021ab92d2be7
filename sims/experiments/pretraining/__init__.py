"""E3 `pretraining` (this package: :mod:`.config`, :mod:`.cells`, :mod:`.search`, :mod:`.tables`,
:mod:`.figures`, :mod:`.claims`): how many pre-training steps T* a dense two-layer network needs before greedy
forward selection (``gfs``) finds a subnetwork of fixed size n meeting a criterion, as the
number of training samples m grows (Wolfe et al.; docs/THEORY.md P5-P8 and "Anatomy of T* grows
like log m").

Set-ups (the ``dataset`` column of the rows):

- ``ntk-teacher``: the NTK set-up of P5. First layer trained, second layer fixed to +-1, relu,
  inputs uniform on the unit sphere, GD on the summed loss with step eta = ntk_lr / m (see
  :func:`dense_learning_rate`; in the mean form this is GD with step ntk_lr). Also lambda_0 of
  the closed-form NTK Gram matrix (exact up to ``lambda_max_points`` samples; above that the
  smallest eigenvalue of a seeded random principal submatrix, an *upper* bound on lambda_0 by
  interlacing, reported as ``lambda_0_subsample``) and P6's predicted T*.
- ``mf-teacher``: a mean-field network trained on both layers, same synthetic data.
- ``rf-teacher``: random features (P8): mean-field, first layer fixed (train mode "second").
  The dense loss and neuron variance are predicted from the spectrum at initialisation
  before training; the prediction gives T_B (P7) before any step is taken.
- ``mf-mnist5k``: mean-field, both layers, full-batch GD on bundled MNIST 5k.
- ``sgd-mnist5k``: the same network trained by mini-batch SGD (Wolfe et al.'s protocol):
  there every step is an **epoch** (``sgd_batch_size`` examples per update).
- ``mf-mnist``: full MNIST (IDX files); not in the default list; without the files each cell
  returns one ``skipped_data_missing`` row.

Synthetic targets are divided by their RMS norm, so the zero predictor's loss is 0.5; MNIST's
one-hot targets give 0.5 as well, so every eps reads as a fraction of that.

A cell is (setup, m, seed). The dense network is trained once; the neuron variance V_t is
recorded at every step (from the activations GD computes anyway), and the parameters on a
stored grid (every step for the synthetic set-ups, every ``mnist_store_every`` steps for
MNIST, replayed exactly in between; every epoch for SGD). The GFS subnetwork (n neurons) is
evaluated on a coarse geometric grid of ``coarse_points`` steps, then, for every criterion,
inside the bracket where it is first met (bisection, see :mod:`.search`). Rows
(``eps`` column = the criterion, mean form unless the metric says ``_sum``):

- curves (``step`` = t, coarse grid): ``subnet_loss``, ``subnet_loss_sum`` (m times),
  ``subnet_accuracy`` (labelled data), ``dense_loss``, ``V``, ``certificate`` (P7's B_n(t));
- per eps: ``pretrain_steps`` (T*, the first step at which the subnetwork's loss <= eps; inf if
  never within the budget), ``pretrain_steps_stable`` (the first step from which it stays
  <= eps), ``certificate_steps`` (method ``p7-bound``: T_B = min{t : L(u_t) + V_t (1 + ln n)/(2n)
  <= eps}, exact from the per-step values), ``dense_steps`` (the dense network's own first
  step with loss <= eps) and ``contraction_rate`` (method ``dense``: the dense loss's mean
  log-contraction per step over [T*/2, T*], the rate of the directions that matter at eps);
- the same with ``_sum`` for each summed-form criterion ``sum_eps`` (subnetwork summed loss
  m L <= eps, so the mean-form criterion is eps/m), and ``pretrain_steps_accuracy`` (eps =
  tau, training accuracy >= tau) on labelled data;
- per cell: ``initial_loss`` (L(u_0), mean form), ``initial_loss_sum``, ``evaluations`` (GFS
  runs spent), ``replayed_steps``; NTK: ``lambda_0`` or ``lambda_0_subsample``, ``p6_steps``
  per eps (method ``p6-bound``); random features: ``predicted_certificate_steps`` per eps
  (method ``p8-prediction``, from the spectrum before training), ``p8_max_relative_error``
  (largest |L_measured/L_P8 - 1| over all steps), and for the first seed the spectrum:
  ``rf_mu`` and ``rf_c2`` (step = direction index j: eigenvalue mu_j of A and residual energy
  ||c_j||^2 of u_0 - y) and ``rf_rest`` (energy outside the span of the features);
- ``diverged_lr`` (value = the learning rate), ``skipped_m_too_large`` (value = examples
  available), ``skipped_data_missing``.
"""

from __future__ import annotations

from sims.experiments.pretraining.cells import (Cell, cells, contraction_rate, neuron_variance_from_hidden,
                                                ntk_lambda_0, random_subnetwork_identity, run_cell)
from sims.experiments.pretraining.claims import claims, identity_z_limit, summary
from sims.experiments.pretraining.config import (DEFAULT_SETUPS, SETUPS, SYNTHETIC, PretrainingConfig, Setup,
                                                 dense_learning_rate, quick, setup_plan, setup_seeds)
from sims.experiments.pretraining.figures import directions_that_matter, figures
from sims.experiments.record import Experiment

__all__ = ["EXPERIMENT", "PretrainingConfig", "quick", "Setup", "setup_plan", "setup_seeds", "Cell", "cells",
           "run_cell", "figures", "claims", "summary", "SETUPS", "DEFAULT_SETUPS", "SYNTHETIC", "dense_learning_rate",
           "ntk_lambda_0", "neuron_variance_from_hidden", "random_subnetwork_identity", "contraction_rate",
           "identity_z_limit", "directions_that_matter", "data_sets"]


def data_sets(config: PretrainingConfig) -> list:
    """The data sets (DatasetConfig) the configured set-ups read."""
    return [setup_plan(config, setup).data for setup in config.setups]


EXPERIMENT = Experiment(
    name="pretraining",
    config_class=PretrainingConfig,
    quick=quick,
    cells=cells,
    run_cell=run_cell,
    figures=figures,
    claims=claims,
    summary=summary,
    data=data_sets,
    description="E3: pre-training steps T*(eps, m) before GFS finds a good subnetwork; P7 certificate, P8 spectrum",
)
