"""The toolkit's experiments: :data:`EXPERIMENTS` maps each name to its
:class:`sims.experiments.record.Experiment` record, in the order ``gfs run all`` runs them. Adding an
experiment is one module (or, when it does several jobs of some size, a package: config, cells,
figures, claims, as :mod:`sims.experiments.pretraining`) with an ``EXPERIMENT`` record plus one
entry here. An experiment's config nests the library's configs (``DatasetConfig``, ``NetworkConfig``,
``TrainConfig``) and is stored by its flat record (:mod:`sims.foundations.composed`); its cells are
typed records (frozen dataclasses)."""

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
