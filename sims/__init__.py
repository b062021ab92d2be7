"""gfs-toolkit's simulators: select neurons of two-layer networks, train and prune them, load data,
run the experiments.

The names below are the stable public surface (``__all__``); everything else is reached through
its module. The package is layered, each subpackage importing only the ones before it:
``foundations`` (errors, atomic io, config constraints, extras, guards), ``results`` (the tidy-row
schema, filter, reader and writer, results folders), ``selection`` (the engine), ``metrics``,
``plotting`` (the method-style table, shared figure pieces), ``nets`` (model, training), ``data``,
``baselines``, ``pruning`` (a user's network, the trade-off bench), ``experiments`` (records,
configs, runner, the six experiments), ``reporting``, ``cli``. The distribution is called
``gfs-toolkit`` (``pip install gfs-toolkit``; ``__version__`` is its version); its import names
are ``sims`` and ``theory``, and ``python -m sims`` is the ``gfs`` command line.

>>> import numpy as np, sims
>>> rng = np.random.default_rng(0)
>>> features = rng.standard_normal((20, 50))      # 50 neurons on 20 samples
>>> selection = sims.select(features, features[:, :5].mean(1), 5, "fw")
>>> indices, weights = selection.support()         # the chosen neurons and their weights
>>> len(indices) == len(weights) == selection.support_size
True
"""

from importlib import metadata as _metadata

from sims.data.datasets import Dataset, DatasetConfig, load_dataset
from sims.foundations.errors import InputError
from sims.nets.model import TwoLayerNet, forward, init_network, load_model, neuron_features, save_model, subnetwork
from sims.pruning.prune import prune_model, prune_sequential, prune_state_dict
from sims.results.rows import load_results
from sims.experiments.runner import run_experiment
from sims.selection.engine import METHODS, Selection, SelectionRun, dense_loss, select, subnetwork_output
from sims.nets.train import TrainConfig, TrainResult, train

try:
    __version__ = _metadata.version("gfs-toolkit")
except _metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "__version__",
    # selection
    "select", "Selection", "METHODS", "SelectionRun", "dense_loss", "subnetwork_output",
    # networks
    "TwoLayerNet", "init_network", "forward", "neuron_features", "subnetwork", "save_model", "load_model",
    "train", "TrainConfig", "TrainResult", "prune_model", "prune_state_dict", "prune_sequential",
    # data
    "load_dataset", "DatasetConfig", "Dataset",
    # experiments
    "run_experiment", "load_results",
    # errors
    "InputError",
]
