"""The in-memory array backend: the scratch products have the bits of the plain formulas, the
user's array is used without a copy in every layout it can be, and the requests' answers are the
plain formulas of sims.selection.backend."""

import numpy as np
import pytest
import torch

from sims.foundations.errors import InputError
from sims.selection import arrays


# ---------------------------------------------------------------------------------------
# fcfw and greedy-opt: float64 products over the support in reused scratch blocks


def _scratch_instance(dim: int, dtype, layout: str):
    """A problem with N = 120 neurons whose phi is (N, dim) row-major ('rows') or a transposed
    (m, N) row-major view ('columns'), and its scratch (sizes set by the caller)."""
    generator = torch.Generator().manual_seed(dim)
    buffer = torch.randn(120, dim, generator=generator, dtype=dtype) + torch.randn(120, 1, generator=generator, dtype=dtype)
    features = buffer.t() if layout == "rows" else buffer.t().contiguous()  # (m, N)
    problem = arrays.array_rows(features, torch.randn(dim, generator=generator, dtype=torch.float64))
    return problem, arrays.Scratch(problem)


@pytest.mark.parametrize("layout", ["rows", "columns"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("dim", [6, 1001, 4097])
def test_scratch_products_have_the_bits_of_the_plain_formulas(monkeypatch, dim, dtype, layout):
    """The scratch computes each product block by block yet gives the bits of the formula in its
    docstring with one BLAS call per 2**22 // D rows (here 37): what keeps fcfw's and
    greedy-opt's picks and losses byte-identical to the unblocked engine. Calls of 37 rows cut
    into blocks of 16 (18 rounded down to whole groups of eight) meet every kind of boundary:
    block, call, and a call's tail of one to three rows."""
    monkeypatch.setattr(arrays, "BLOCK_ELEMENTS", 37 * dim)
    monkeypatch.setattr(arrays, "SCRATCH_BYTES", 18 * dim * 8)  # 18 rows, rounded down to 16
    problem, scratch = _scratch_instance(dim, dtype, layout)
    assert (scratch.call_rows, scratch.block_rows) == (37, 16)
    phi, target = problem.phi, problem.target
    rows = torch.from_numpy(np.random.default_rng(dim).permutation(120)[:101])
    vector = torch.from_numpy(np.random.default_rng(1).standard_normal(dim))

    expected = torch.cat([(phi[call].to(torch.float64) - target) @ vector for call in rows.split(37)])
    assert torch.equal(scratch.centered_products(vector, rows=rows.tolist()), expected)
    everyone = torch.arange(120).split(37)
    expected = torch.cat([(phi[call].to(torch.float64) - target) @ vector for call in everyone])
    assert torch.equal(scratch.centered_products(vector), expected)
    assert scratch.centered_products(vector, rows=[]).shape == (0,)
    centered = [phi[call].to(torch.float64) - target for call in everyone]
    assert torch.equal(scratch.centered_sq_norms(), torch.cat([(c * c).sum(1) for c in centered]))
    stored = phi[rows].to(torch.float64)  # fcfw's float64 copy of its support rows
    expected = torch.cat([(stored[call] - target) @ vector for call in torch.arange(101).split(37)])
    assert torch.equal(scratch.stored_centered_products(stored, vector), expected)
    for count in (1, 7, 101):  # column blocks of 18 * dim // count columns
        weights = np.random.default_rng(count).random(count)
        expected = torch.from_numpy(weights / weights.sum()) @ phi[rows[:count]].to(torch.float64)
        assert torch.equal(scratch.combination(rows[:count].tolist(), weights / weights.sum()), expected)




@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("kind", ["numpy", "torch", "memmap"])
def test_an_m_by_n_array_is_used_without_a_copy_in_either_order(tmp_path, dtype, order, kind):
    """(m, N) float32/float64 in C or Fortran order, numpy, torch or memory-mapped: phi is a view
    of the caller's memory, and the norms (taken along the array's contiguous axis either way)
    are the float64 sums of squares to the dtype's rounding."""
    array = np.asarray(np.random.default_rng(0).standard_normal((50, 30)), dtype=dtype, order=order)
    if kind == "memmap":
        np.save(tmp_path / "f.npy", array)
        array = np.load(tmp_path / "f.npy", mmap_mode="r")
    given = torch.from_numpy(np.asarray(array)) if kind == "torch" else array
    rows = arrays.array_rows(given, np.zeros(50))
    assert np.shares_memory(rows.phi.numpy(), np.asarray(array))
    expected = (np.asarray(array, dtype=np.float64) ** 2).sum(0)
    np.testing.assert_allclose(rows.sq_norms.numpy(), expected, rtol=1e-5 if dtype == np.float32 else 1e-13)


def test_the_toolkits_m_n_k_layout_is_a_view_and_other_layouts_are_copied_once():
    buffer = torch.randn(30, 50, 3)  # (N, m, K), what neuron_features permutes
    assert arrays.array_rows(buffer.permute(1, 0, 2), torch.zeros(50, 3)).phi.data_ptr() == buffer.data_ptr()
    c_order = buffer.permute(1, 0, 2).contiguous()  # (m, N, K) C order: copied into neuron-major order
    rows = arrays.array_rows(c_order, torch.zeros(50, 3))
    assert not np.shares_memory(rows.phi.numpy(), c_order.numpy())
    assert torch.equal(rows.phi, buffer.reshape(30, 150))
    with pytest.raises(InputError, match="features must hold real numbers"):
        arrays.array_rows(np.zeros((3, 4), dtype=complex), np.zeros(3))
