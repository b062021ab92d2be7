"""The experiments. Importing this package registers each one in sims.runner.EXPERIMENTS."""

from sims.experiments import exponential, rates  # noqa: F401
from sims.experiments import pretraining, finetune  # noqa: F401
