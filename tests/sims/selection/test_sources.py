"""Sources: a network's features in factored form (no copy of H in any layout) and an array read
by chunks; their sums are the plain formulas on the (m, N, K) features."""

import numpy as np
import pytest
import torch

from sims.foundations.errors import InputError
from sims.selection.sources import ArraySource, ChunkBuffers, Factored, checked_targets


def factors(dtype=np.float64, order="C", m=30, width=20, outputs=3, seed=0):
    rng = np.random.default_rng(seed)
    hidden = np.asarray(rng.random((m, width)), dtype=dtype, order=order)
    return hidden, rng.standard_normal((width, outputs)), 1.7


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("kind", ["numpy", "torch", "memmap"])
def test_hidden_activations_are_used_without_a_copy(tmp_path, dtype, order, kind):
    hidden, second, scale = factors(dtype, order)
    if kind == "memmap":
        np.save(tmp_path / "h.npy", hidden)
        hidden = np.load(tmp_path / "h.npy", mmap_mode="r")
    given = torch.from_numpy(hidden) if kind == "torch" else hidden
    source = Factored(given, second, scale)
    block = source.hidden(0, source.rows)
    assert np.shares_memory(block.numpy(), np.asarray(hidden))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_factored_sums_are_the_plain_formulas(dtype, order):
    hidden, second, scale = factors(dtype, order)
    source = Factored(hidden, second, scale)
    features = torch.from_numpy(hidden).double().unsqueeze(2) * torch.from_numpy(second).unsqueeze(0) * scale
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    vectors = torch.from_numpy(np.random.default_rng(1).standard_normal((30, 3)))
    torch.testing.assert_close(source.dots(0, 30, vectors), torch.einsum("jik,jk->i", features, vectors),
                               rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(source.sq_norms(0, 30), (features ** 2).sum((0, 2)), rtol=tolerance, atol=0)
    torch.testing.assert_close(source.columns([3, 1]), features[:, [3, 1]], rtol=tolerance, atol=tolerance)
    for neuron in (7, 0, 7):  # a pick's Gram column <phi_i, phi_v>, also when its column was the last gathered
        torch.testing.assert_close(source.neuron_products(0, 30, neuron),
                                   torch.einsum("jik,jk->i", features, features[:, neuron]), rtol=tolerance, atol=tolerance)
        torch.testing.assert_close(source.columns([neuron]), features[:, [neuron]], rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(source.neuron_products(10, 30, 4),
                               torch.einsum("jik,jk->i", features[10:], features[10:, 4]), rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(source.materialised().double(), features, rtol=tolerance, atol=tolerance)


def test_bad_factors_are_refused_naming_the_parameter():
    hidden, second, scale = factors()
    with pytest.raises(InputError, match="activations must have shape"):
        Factored(hidden[0], second)
    with pytest.raises(InputError, match=r"second must have shape \(N, K\) = \(20, K\)"):
        Factored(hidden, second[:5])
    with pytest.raises(InputError, match="scale must be a finite number"):
        Factored(hidden, second, float("nan"))
    for order in ("C", "F"):
        bad = hidden.copy(order=order)
        bad[4, 2] = np.nan
        with pytest.raises(InputError, match=r"activations contain NaN or inf \(data rows 0\.\.29\)"):
            Factored(bad, second).hidden(0, 30)
    with pytest.raises(InputError, match=r"target must have shape \(30, 3\)"):
        checked_targets(Factored(hidden, second, targets=np.zeros(30)))


def test_array_source_reads_chunks_into_reused_buffers():
    array = np.random.default_rng(2).standard_normal((12, 5, 2)).astype(np.float32)
    source, buffers = ArraySource(array, np.zeros((12, 2))), ChunkBuffers(5)
    first = source.hidden(0, 5, buffers)
    second = source.hidden(5, 10, buffers)
    assert first.data_ptr() == second.data_ptr()  # the same buffer, overwritten
    np.testing.assert_array_equal(second.numpy(), array[5:10])
