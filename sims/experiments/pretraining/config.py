"""E3's config: the set-ups, their data, networks and training (the library's configs, nested),
the criteria, and the typed plan of one set-up (:class:`Setup`) that the cells, figures and
claims read. The config's record (TOML keys, config.json, the results folder's hash) is the flat
one of ``sims.foundations.composed``: ``ntk_width`` is ``config.ntk_network.width``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sims.data.datasets import DatasetConfig
from sims.foundations.composed import from_flat_record, nested
from sims.foundations.constraints import check_fields, constrained
from sims.foundations.errors import InputError
from sims.nets.model import NetworkConfig
from sims.nets.train import TrainConfig

__all__ = ["SETUPS", "DEFAULT_SETUPS", "SYNTHETIC", "PretrainingConfig", "quick", "Setup", "setup_plan",
           "setup_seeds", "dense_learning_rate"]

SETUPS = ("ntk-teacher", "mf-teacher", "mf-teacher-p7", "rf-teacher", "mf-mnist5k", "sgd-mnist5k", "mf-mnist")
DEFAULT_SETUPS = ("ntk-teacher", "mf-teacher", "mf-teacher-p7", "rf-teacher", "mf-mnist5k", "sgd-mnist5k")
SYNTHETIC = ("ntk-teacher", "mf-teacher", "mf-teacher-p7", "rf-teacher")


def _network(width: int, key: str, **fields) -> dataclasses.Field:
    """A nested NetworkConfig whose width is the key ``key``."""
    return nested(NetworkConfig(width=width, **fields), flat={"width": key})


def _training(iterations: int, lr: float, prefix: str, **fields) -> dataclasses.Field:
    """A nested TrainConfig whose steps and learning rate are the keys ``<prefix>_iterations``, ``<prefix>_lr``."""
    return nested(TrainConfig(iterations=iterations, lr=lr, **fields),
                  flat={"iterations": f"{prefix}_iterations", "lr": f"{prefix}_lr"})


@dataclass(frozen=True)
class PretrainingConfig:
    """Full-scale defaults; ``quick()`` gives the preset of ``--quick``.

    *_eps: the loss criteria (mean form; the zero predictor's loss is 0.5 everywhere);
    sum_eps: summed-form criteria for the synthetic set-ups (m L <= eps);
    taus: training-accuracy criteria (labelled data); coarse_points: size of the coarse grid
    of steps on which the subnetwork is evaluated before the exact search; mnist_seeds: the
    MNIST set-ups run the first mnist_seeds of ``seeds`` (they cost most per cell); p7_*: the
    ``mf-teacher-p7`` set-up (n = p7_n may exceed the width: GFS picks with replacement);
    identity_draws: random subnetworks drawn per checked step for the identity (>= 2).
    Per set-up, a network (``*_network``: width, scaling, floating type) and its training
    (``*_train``: steps, learning rate, trained layers, loss form; ``ntk_train.lr`` is the step of
    mean-form GD, see :func:`dense_learning_rate`); the SGD set-up trains ``mnist_network`` with
    ``sgd_train`` (``iterations`` counts epochs).
    """

    setups: tuple[str, ...] = constrained(DEFAULT_SETUPS, choices=lambda: SETUPS)
    seeds: tuple[int, ...] = constrained(tuple(range(8)), value_range="non-negative")
    n: int = constrained(50, value_range="positive")
    coarse_points: int = constrained(16, value_range="positive")
    # synthetic teacher (four set-ups): inputs on the unit sphere, no test split
    teacher_sizes: tuple[int, ...] = constrained((30, 100, 300, 1000, 3000, 10000), value_range="positive")
    teacher: DatasetConfig = nested(DatasetConfig(name="teacher", input_dim=5, teacher_width=10,
                                                  input_distribution="sphere", test_fraction=0.0),
                                    flat={"input_dim": "input_dim", "teacher_width": "teacher_width"})
    sum_eps: tuple[float, ...] = constrained((5.0, 20.0, 100.0), value_range="non-negative")
    # NTK set-up: first layer trained, second fixed to +-1 (sign), summed loss
    ntk_network: NetworkConfig = _network(200, "ntk_width", scaling="ntk")
    ntk_train: TrainConfig = _training(300, 1.0, "ntk", mode="first", loss_form="sum")
    ntk_eps: tuple[float, ...] = constrained((0.1, 0.07, 0.05, 0.035), value_range="non-negative")
    lambda_max_points: int = 2000
    # mean-field, both layers
    mf_network: NetworkConfig = _network(200, "mf_width")
    mf_train: TrainConfig = _training(150, 1.0, "mf", mode="both")
    mf_eps: tuple[float, ...] = constrained((0.4, 0.1, 0.05, 0.03, 0.02, 0.015), value_range="non-negative")
    # random features: mean-field, first layer fixed
    rf_network: NetworkConfig = _network(200, "rf_width")
    rf_train: TrainConfig = _training(1000, 1.0, "rf", mode="second")
    rf_eps: tuple[float, ...] = constrained((0.4, 0.1, 0.07, 0.05, 0.04), value_range="non-negative")
    # P7 where it is informative: mean-field, both layers, n > N (GFS with replacement), second layer
    # initialised p7_second_scale times smaller; the first p7_seeds of ``seeds``
    p7_sizes: tuple[int, ...] = constrained((30, 100, 300, 1000), value_range="positive")
    p7_n: int = constrained(4000, value_range="positive")
    p7_network: NetworkConfig = _network(200, "p7_width")
    p7_second_scale: float = constrained(0.3, value_range="positive")
    p7_train: TrainConfig = _training(80, 1.0, "p7", mode="both")
    p7_eps: tuple[float, ...] = constrained((0.1, 0.07, 0.05, 0.04, 0.03), value_range="non-negative")
    p7_seeds: int = constrained(4, value_range="positive")
    # the random-subnetwork identity: draws per checked step
    identity_draws: int = constrained(4000, value_range="positive")
    # MNIST (full-batch GD and SGD), float32, no test split
    mnist5k: DatasetConfig = nested(DatasetConfig(name="mnist5k", test_fraction=0.0), flat={})
    mnist: DatasetConfig = nested(DatasetConfig(name="mnist", test_fraction=0.0), flat={})
    mnist5k_sizes: tuple[int, ...] = constrained((250, 500, 1000, 2000, 5000), value_range="positive")
    mnist_sizes: tuple[int, ...] = constrained((1000, 3000, 10000, 30000, 60000), value_range="positive")
    mnist_network: NetworkConfig = _network(300, "mnist_width", dtype="float32")
    mnist_train: TrainConfig = _training(300, 1.0, "mnist", mode="both")
    mnist_store_every: int = constrained(10, value_range="positive")
    mnist_eps: tuple[float, ...] = constrained((0.4, 0.3, 0.25, 0.2), value_range="non-negative")
    taus: tuple[float, ...] = constrained((0.6, 0.7, 0.8, 0.85), value_range="non-negative")
    sgd_train: TrainConfig = nested(TrainConfig(iterations=30, lr=0.2, mode="both", batch_size=100),
                                    flat={"batch_size": "sgd_batch_size", "iterations": "sgd_epochs", "lr": "sgd_lr"})
    mnist_seeds: int = constrained(4, value_range="positive")

    def __post_init__(self):
        check_fields(self)
        if not self.seeds:
            raise InputError("seeds must not be empty")
        if self.identity_draws < 2:
            raise InputError(f"identity_draws must be an integer >= 2, got {self.identity_draws!r}")
        if self.sgd_train.iterations < 1:
            raise InputError(f"sgd_epochs must be a positive integer, got {self.sgd_train.iterations!r}")
        if self.sgd_train.batch_size is None:
            raise InputError("sgd_batch_size must be a positive integer, got None")


def quick() -> PretrainingConfig:
    """Seconds-scale preset: the main picture (T*(eps, m) curves and the P7 check), in the
    config's keys."""
    return from_flat_record(PretrainingConfig, dict(
        seeds=(0,),
        n=20,
        coarse_points=10,
        teacher_sizes=(100, 300, 1000),
        ntk_width=100,
        ntk_iterations=200,
        lambda_max_points=400,
        mf_width=100,
        mf_iterations=120,
        rf_width=100,
        rf_iterations=300,
        p7_sizes=(30, 100, 300),
        p7_n=500,
        p7_width=60,
        p7_iterations=30,
        p7_eps=(0.25, 0.2, 0.15, 0.1, 0.07),
        p7_seeds=1,
        identity_draws=500,
        mnist5k_sizes=(250, 500),
        mnist_width=60,
        mnist_iterations=60,
        ntk_eps=(0.2, 0.1),
        mf_eps=(0.2, 0.1, 0.05),
        rf_eps=(0.2, 0.1, 0.05),
        mnist_eps=(0.45, 0.4),
        taus=(0.5, 0.6),
        sgd_epochs=6,
        mnist_seeds=1,
    ))


def dense_learning_rate(setup: str, lr: float, m: int) -> float:
    """The TrainConfig.lr a set-up trains with: NTK, GD on the summed loss with eta = lr / m
    (the summed-loss Gram matrix's top eigenvalue grows like m; this is mean-form GD with step
    lr); the mean-field set-ups use lr as given (width-independent, see sims.nets.train)."""
    return lr / m if setup == "ntk-teacher" else lr


@dataclass(frozen=True)
class Setup:
    """One set-up's plan: its data (``m`` and ``seed`` set per cell), the sizes m, the network
    (seeded per cell) and its training (``lr`` before :func:`dense_learning_rate`; SGD when
    ``batch_size`` is set), the subnetwork size n, the loss criteria (mean and summed form),
    how often the trajectory is stored, the unit of a step, and the factor of the second
    layer at initialisation."""

    data: DatasetConfig
    sizes: tuple[int, ...]
    network: NetworkConfig
    train: TrainConfig
    n: int
    eps: tuple[float, ...]
    sum_eps: tuple[float, ...] = ()
    store_every: int = 1
    unit: str = "step"
    second_scale: float = 1.0

    @property
    def second_layer(self) -> str:
        """The second layer at initialisation: fixed signs when only the first layer trains (P5)."""
        return "sign" if self.train.mode == "first" else "gaussian"


def setup_plan(config: PretrainingConfig, setup: str) -> Setup:
    """The plan of ``setup`` under ``config``."""
    if setup in SYNTHETIC:
        synthetic = dict(data=config.teacher, sizes=config.teacher_sizes, n=config.n, sum_eps=config.sum_eps)
        if setup == "ntk-teacher":
            return Setup(network=config.ntk_network, train=config.ntk_train, eps=config.ntk_eps, **synthetic)
        if setup == "mf-teacher":
            return Setup(network=config.mf_network, train=config.mf_train, eps=config.mf_eps, **synthetic)
        if setup == "mf-teacher-p7":
            return Setup(**dict(synthetic, sizes=config.p7_sizes, n=config.p7_n, sum_eps=()), network=config.p7_network,
                         train=config.p7_train, eps=config.p7_eps, second_scale=config.p7_second_scale)
        return Setup(network=config.rf_network, train=config.rf_train, eps=config.rf_eps, **synthetic)
    full = setup == "mf-mnist"
    mnist = dict(data=config.mnist if full else config.mnist5k, sizes=config.mnist_sizes if full else config.mnist5k_sizes,
                 network=config.mnist_network, n=config.n, eps=config.mnist_eps)
    if setup == "sgd-mnist5k":
        return Setup(train=config.sgd_train, unit="epoch", **mnist)
    return Setup(train=config.mnist_train, store_every=config.mnist_store_every, **mnist)


def setup_seeds(config: PretrainingConfig, setup: str) -> tuple[int, ...]:
    """The seeds a set-up runs: all for the synthetic ones, the first p7_seeds for P7's, the
    first mnist_seeds for MNIST's."""
    if setup == "mf-teacher-p7":
        return config.seeds[: config.p7_seeds]
    return config.seeds if setup in SYNTHETIC else config.seeds[: config.mnist_seeds]
