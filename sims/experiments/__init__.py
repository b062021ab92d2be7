"""The toolkit's experiments: :data:`EXPERIMENTS` maps each name to its
:class:`sims.experiments.record.Experiment` record, in the order ``gfs run all`` runs them. Adding an
experiment is one module with an ``EXPERIMENT`` record plus one entry here."""

from sims.experiments import exponential, finetune, pretraining, rates, submodularity, tradeoff

EXPERIMENTS = {experiment.name: experiment for experiment in (
    exponential.EXPERIMENT,
    rates.EXPERIMENT,
    pretraining.EXPERIMENT,
    finetune.EXPERIMENT,
    tradeoff.EXPERIMENT,
    submodularity.EXPERIMENT,
)}

__all__ = ["EXPERIMENTS"]
