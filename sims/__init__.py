"""gfs-toolkit's simulators: select neurons of two-layer networks, train and prune them, load data,
run the experiments.

The names below are the stable public surface (``__all__``); everything else is reached through
its module (``from sims.select import REWEIGHTED_METHODS``, ``from sims.runner import
results_folder``). ``sims.select`` and ``sims.train`` are the functions: their modules are
imported with ``from sims.select import ...`` / ``from sims.train import ...`` (or
``importlib.import_module("sims.select")``), not by attribute. The distribution is called
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

from sims.data import Dataset, DatasetConfig, load_dataset
from sims.errors import InputError
from sims.model import TwoLayerNet, forward, init_network, load_model, neuron_features, save_model, subnetwork
from sims.prune import prune_model, prune_sequential, prune_state_dict
from sims.runner import load_results, run_experiment
from sims.select import METHODS, Selection, SelectionRun, dense_loss, select, subnetwork_output
from sims.train import TrainConfig, TrainResult, train

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
