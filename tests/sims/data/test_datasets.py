"""Dataset registry: teacher, bundled MNIST 5k, digits, and full MNIST from IDX files that the
tests write themselves in the standard format (never the network)."""

import gzip
import struct

import numpy as np
import pytest

from sims.data.datasets import DATASETS, DatasetConfig, load_dataset, read_idx

from tests.helpers import EXACT


def write_idx(path, array, compress=False):
    """The IDX format: 0x0000, type 0x08 (ubyte), ndim, big-endian uint32 dims, data."""
    array = np.asarray(array, dtype=np.uint8)
    payload = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    (gzip.open if compress else open)(path, "wb").write(payload)


def write_tiny_mnist(directory, train=60, test=20, compress=False, seed=0):
    rng = np.random.default_rng(seed)
    suffix = ".gz" if compress else ""
    labels = {"train": np.arange(train) % 10, "test": np.arange(test) % 10}
    images = {split: rng.integers(0, 256, size=(n.shape[0], 28, 28)) for split, n in labels.items()}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        write_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}", images[split], compress)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}", labels[split], compress)
    return images, labels


@pytest.mark.parametrize("compress", [False, True])
def test_full_mnist_reads_standard_idx_files(tmp_path, compress):
    images, labels = write_tiny_mnist(tmp_path, compress=compress)
    data = load_dataset(name="mnist", data_dir=str(tmp_path), input_scaling="none")
    assert data.train_inputs.shape == (60, 784) and data.test_inputs.shape == (20, 784)
    np.testing.assert_array_equal(data.train_labels, labels["train"])
    np.testing.assert_allclose(data.train_inputs, images["train"].reshape(60, -1) / 255.0)
    assert data.train_targets.shape == (60, 10)
    np.testing.assert_array_equal(data.train_targets.argmax(1), labels["train"])


def test_full_mnist_subset_is_stratified(tmp_path):
    write_tiny_mnist(tmp_path)
    data = load_dataset(name="mnist", data_dir=str(tmp_path), m=30)
    assert np.bincount(data.train_labels).tolist() == [3] * 10
    np.testing.assert_allclose(np.linalg.norm(data.train_inputs, axis=1), 1.0)  # auto: unit-norm


def test_missing_and_malformed_idx_files(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_dataset(name="mnist", data_dir=str(tmp_path))
    bad = tmp_path / "bad-idx"
    bad.write_bytes(b"\x00\x00\x0d\x01\x00\x00\x00\x02ab")
    with pytest.raises(ValueError, match="bad magic"):
        read_idx(bad)
    truncated = tmp_path / "short-idx"
    truncated.write_bytes(struct.pack(">HBB", 0, 8, 1) + struct.pack(">I", 10) + b"abc")
    with pytest.raises(ValueError, match="promises 10 values"):
        read_idx(truncated)
    with pytest.raises(ValueError, match="does not exist"):
        read_idx(tmp_path / "nothing")


def test_mismatched_mnist_files_are_reported(tmp_path):
    write_tiny_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(7))
    with pytest.raises(ValueError, match="disagree"):
        load_dataset(name="mnist", data_dir=str(tmp_path))


def test_mnist5k_split_subset_and_determinism():
    first = load_dataset(name="mnist5k", m=500, seed=3)
    again = load_dataset(name="mnist5k", m=500, seed=3)
    other = load_dataset(name="mnist5k", m=500, seed=4)
    assert first.train_inputs.shape == (500, 784) and first.test_inputs.shape == (1000, 784)
    assert np.bincount(first.train_labels).tolist() == [50] * 10
    assert np.array_equal(first.train_inputs, again.train_inputs)
    assert not np.array_equal(first.train_inputs, other.train_inputs)


def test_binary_task_and_standardize():
    data = load_dataset(name="digits", task="binary", classes=(3, 8), input_scaling="standardize", test_fraction=0.25)
    assert set(np.unique(data.train_labels)) == {3, 8}
    assert data.train_targets.shape[1] == 1
    np.testing.assert_array_equal(data.train_targets[:, 0], np.where(data.train_labels == 8, 1.0, -1.0))
    np.testing.assert_allclose(data.train_inputs.mean(0), 0, atol=EXACT)


def test_teacher_is_a_two_layer_network_with_optional_noise():
    clean = load_dataset(name="teacher", m=40, input_dim=3, teacher_width=5, output_dim=2, input_distribution="sphere")
    noisy = load_dataset(name="teacher", m=40, input_dim=3, teacher_width=5, output_dim=2, input_distribution="sphere",
                         label_noise=0.1)
    assert clean.train_targets.shape == (40, 2) and clean.test_inputs.shape == (8, 3)
    np.testing.assert_allclose(np.linalg.norm(clean.train_inputs, axis=1), 1.0)
    residual = noisy.train_targets - clean.train_targets
    assert 0.05 < residual.std() < 0.2


@pytest.mark.parametrize(
    "fields,match",
    [({"name": "cifar"}, "valid: teacher"), ({"m": 0}, "m "), ({"name": "mnist5k", "m": 4001}, "larger than"),
     ({"input_scaling": "minmax"}, "input_scaling"), ({"name": "digits", "task": "regression"}, "regression"),
     ({"test_fraction": 1.0}, "test_fraction"), ({"name": "digits", "task": "binary", "classes": (1, 11)}, "do not occur")],
)
def test_bad_options_name_the_parameter(fields, match):
    with pytest.raises(ValueError, match=match):
        load_dataset(**fields)


def test_registry_lists_all_datasets():
    assert set(DATASETS) == {"teacher", "mnist5k", "digits", "mnist"}
    assert DatasetConfig().name in DATASETS


def test_too_large_subset_and_missing_files_have_their_own_error_types(tmp_path):
    from sims.data.datasets import DataFilesMissing, SubsetTooLarge

    with pytest.raises(SubsetTooLarge) as too_large:
        load_dataset(name="digits", m=5000)
    assert too_large.value.available == 1438  # 1797 digits minus the 20% held out
    with pytest.raises(DataFilesMissing):
        load_dataset(name="mnist", data_dir=str(tmp_path))


def test_bundled_pools_are_parsed_once_and_read_only():
    """mnist5k and digits are read once per process and handed out read-only, so no dataset can
    change another's inputs."""
    from sims.data import datasets as data

    first, again = data._mnist5k_pool(None), data._mnist5k_pool(None)
    assert first[0] is again[0] and first[0].shape == (5000, 784)
    for array in (*first, *data._digits_pool(None)):
        with pytest.raises(ValueError):
            array[0] = 0
    dataset = load_dataset(name="digits", m=50)
    dataset.train_inputs[0, 0] = -1.0  # a dataset's arrays are its own copies
    assert data._digits_pool(None)[0].min() >= 0.0
