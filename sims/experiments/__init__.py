"""The experiments. Importing this package registers each one in sims.runner.EXPERIMENTS."""

from sims.experiments import exponential, rates  # noqa: F401
