"""The experiments. Importing this package registers each one in sims.runner.EXPERIMENTS."""

from sims.experiments import rates  # noqa: F401
